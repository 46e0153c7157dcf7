package ipk

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/openwrttest"
	"github.com/wanlb/wanlb/internal/pkgspec"
)

// ipkFile is the .ipk to install for a: the one `make packages` wrote
// (WANLB_DIST_DIR), or one built here around a stand-in binary.
func ipkFile(t *testing.T, a pkgspec.Arch) (file string, fromDist bool) {
	t.Helper()
	if dir := os.Getenv("WANLB_DIST_DIR"); dir != "" {
		m, _ := filepath.Glob(filepath.Join(dir, "wanlb_*_"+a.Name+".ipk"))
		if len(m) != 1 {
			t.Fatalf("want one wanlb_*_%s.ipk in %s, found %v", a.Name, dir, m)
		}
		return m[0], true
	}
	return writeIPK(t, t.TempDir(), a, "1.0.0-r1", "stand-in binary for "+a.Name+"\n", ""), false
}

// writeIPK builds the wanlb package with bin as binary and extra appended
// to the shipped config.
func writeIPK(t *testing.T, dir string, a pkgspec.Arch, version, bin, extra string) string {
	t.Helper()
	p, err := pkgspec.Wanlb(a, version, []byte(bin), filepath.Join(repoRoot(t), "files"), testTime)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range p.Files {
		if f.Name == "/etc/config/wanlb" {
			p.Files[i].Data = append(append([]byte(nil), f.Data...), extra...)
		}
	}
	var buf bytes.Buffer
	if err := BuildSpec(&buf, p); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, FromSpec(p).Control.FileName())
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// opkgCmd runs the kit's opkg on an offline root ($1) for an architecture ($2).
const opkgCmd = `r=$1; a=$2; shift 2; opkg -o "$r" --tmp-dir "$r/tmp" --add-arch all:1 --add-arch "$a:10" "$@"`

// The real opkg (opkg-lede, OpenWrt 23.05/24.10's) installs every
// architecture's package into an offline root: every file with its mode,
// the binary of the right machine; `opkg remove` removes it all again.
func TestOPKGInstall(t *testing.T) {
	ow := openwrttest.New(t)
	router, err := pkgspec.RouterFiles(filepath.Join(repoRoot(t), "files"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range pkgspec.Arches {
		t.Run(a.Name, func(t *testing.T) {
			file, fromDist := ipkFile(t, a)
			root := filepath.Join(t.TempDir(), "root")
			ow.Run(t, `ow_opkg_install "$1" "$2" "$3"`, root, file, a.Name)
			want := map[string]int64{"/usr/sbin/wanlb": 0o755}
			for _, f := range router {
				want[f.Name] = f.Mode
			}
			for name, mode := range want {
				st, err := os.Lstat(filepath.Join(root, name))
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if !st.Mode().IsRegular() || int64(st.Mode().Perm()) != mode {
					t.Errorf("%s: mode %v, want a regular file %o", name, st.Mode(), mode)
				}
			}
			for _, f := range router {
				if got, _ := os.ReadFile(filepath.Join(root, f.Name)); !bytes.Equal(got, f.Data) {
					t.Errorf("%s differs from files%s", f.Name, f.Name)
				}
			}
			if fromDist {
				bin, _ := os.ReadFile(filepath.Join(root, "usr/sbin/wanlb"))
				if err := pkgspec.CheckBinary(bin, a, true, true); err != nil {
					t.Errorf("installed /usr/sbin/wanlb: %v", err)
				}
			}
			if out := ow.Run(t, opkgCmd+` list-installed wanlb`, root, a.Name); !strings.HasPrefix(out, "wanlb - ") {
				t.Errorf("opkg list-installed: %q", out)
			}
			ow.Run(t, opkgCmd+` remove wanlb`, root, a.Name)
			for name := range want {
				if _, err := os.Lstat(filepath.Join(root, name)); !os.IsNotExist(err) {
					t.Errorf("%s left after opkg remove (%v)", name, err)
				}
			}
		})
	}
}

// An upgrade keeps a locally changed /etc/config/wanlb (the conffile) and
// puts the new one beside it as wanlb-opkg; an unchanged one is replaced.
func TestOPKGUpgradeKeepsConfig(t *testing.T) {
	ow := openwrttest.New(t)
	a, _ := pkgspec.ArchByName("x86_64")
	dir := t.TempDir()
	v1 := writeIPK(t, dir, a, "1.0.0-r1", "binary one", "")
	v2 := writeIPK(t, dir, a, "1.0.0-r2", "binary two", "# shipped with r2\n")
	v3 := writeIPK(t, dir, a, "1.1.0-r1", "binary three", "# shipped with 1.1.0\n")
	root := filepath.Join(dir, "root")
	config := filepath.Join(root, "etc/config/wanlb")

	ow.Run(t, `ow_opkg_install "$1" "$2"`, root, v1)
	ow.Run(t, `ow_opkg_install "$1" "$2"`, root, v2)
	if got, _ := os.ReadFile(config); !strings.HasSuffix(string(got), "# shipped with r2\n") {
		t.Errorf("unchanged config not upgraded: %q", got)
	}
	if _, err := os.Stat(config + "-opkg"); !os.IsNotExist(err) {
		t.Errorf("wanlb-opkg for an unchanged config (%v)", err)
	}

	local := []byte("config globals 'globals'\n\toption enabled '0'\n")
	if err := os.WriteFile(config, local, 0o644); err != nil {
		t.Fatal(err)
	}
	ow.Run(t, `ow_opkg_install "$1" "$2"`, root, v3)
	if got, _ := os.ReadFile(config); !bytes.Equal(got, local) {
		t.Errorf("upgrade replaced the changed config: %q", got)
	}
	if got, err := os.ReadFile(config + "-opkg"); err != nil || !strings.HasSuffix(string(got), "# shipped with 1.1.0\n") {
		t.Errorf("wanlb-opkg: %q, %v", got, err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "usr/sbin/wanlb")); string(got) != "binary three" {
		t.Errorf("binary after upgrade: %q", got)
	}
	if out := ow.Run(t, opkgCmd+` list-installed wanlb`, root, a.Name); !strings.HasPrefix(out, "wanlb - 1.1.0-r1") {
		t.Errorf("installed version: %q", out)
	}
}

// opkg --force-postinstall runs the package's scripts for an offline root
// on this host (PKG_ROOT=root): install, upgrade and removal must do
// nothing there. /etc/init.d is a private tmpfs whose stand-ins for
// wanlb and rpcd record any call.
func TestOPKGOfflineScriptsLeaveHost(t *testing.T) {
	ow := openwrttest.New(t)
	a, _ := pkgspec.ArchByName("x86_64")
	dir := t.TempDir()
	v1 := writeIPK(t, dir, a, "1.0.0-r1", "binary one", "")
	v2 := writeIPK(t, dir, a, "1.0.0-r2", "binary two", "")
	log := filepath.Join(dir, "calls")
	out := ow.Run(t, `exec unshare -m --propagation private bash -c '
	source "$0" || exit 1
	mount -t tmpfs wanlb-test /etc/init.d || exit 1
	for s in wanlb rpcd; do
		printf "#!/bin/sh\necho \"%s \$*\" >> %s\n" "$s" "$1" > /etc/init.d/$s
		chmod 755 /etc/init.d/$s
	done
	export OW_OPKG_OPTS="--force-postinstall --verbosity=2"
	ow_opkg_install "$2" "$3" && echo "$OW_INSTALL_OUTPUT" &&
	ow_opkg_install "$2" "$4" && echo "$OW_INSTALL_OUTPUT" &&
	opkg -o "$2" --tmp-dir "$2/tmp" --force-postinstall --verbosity=2 remove wanlb
' "$0" "$@"`, log, filepath.Join(dir, "root"), v1, v2)
	// postinst on install and upgrade, prerm on upgrade (the old one) and
	// removal.
	for _, s := range []string{"wanlb.postinst.", "wanlb.prerm."} {
		if n := strings.Count(out, "Running script "+filepath.Join(dir, "root")+"//usr/lib/opkg/info/"+s); n != 2 {
			t.Errorf("opkg ran %s %d times, want 2:\n%s", s, n, out)
		}
	}
	if calls, err := os.ReadFile(log); !os.IsNotExist(err) {
		t.Errorf("the scripts called the host's services: %q (%v)", calls, err)
	}
}
