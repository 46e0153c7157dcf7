package apk

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/openwrttest"
	"github.com/wanlb/wanlb/internal/pkgspec"
)

// pkgFile is the .apk to install for a: the one `make packages` wrote
// (WANLB_DIST_DIR), or one built here around a stand-in binary.
func pkgFile(t *testing.T, a pkgspec.Arch) (file string, fromDist bool) {
	t.Helper()
	if dir := os.Getenv("WANLB_DIST_DIR"); dir != "" {
		m, _ := filepath.Glob(filepath.Join(dir, "apk", a.Name, "wanlb-*.apk"))
		if len(m) != 1 {
			t.Fatalf("want one wanlb-*.apk in %s/apk/%s, found %v", dir, a.Name, m)
		}
		return m[0], true
	}
	p := spec(t, a, "1.0.0-r1", []byte("stand-in binary for "+a.Name+"\n"))
	file = filepath.Join(t.TempDir(), FileName(p))
	if err := os.WriteFile(file, build(t, p), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, false
}

// apkCmd runs the kit's apk on the offline root.
const apkCmd = `r=$1; shift; apk --root "$r" --force-no-chroot --no-network --allow-untrusted "$@"`

// The real apk (apk-tools 3.0.6, OpenWrt 25.12's) installs every
// architecture's package into an offline root: every file with its mode,
// the binary of the right machine; `apk del` removes it all again.
func TestAPKInstall(t *testing.T) {
	ow := openwrttest.New(t)
	router, err := pkgspec.RouterFiles(filepath.Join(repoRoot(t), "files"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range pkgspec.Arches {
		t.Run(a.Name, func(t *testing.T) {
			file, fromDist := pkgFile(t, a)
			root := filepath.Join(t.TempDir(), "root")
			ow.Run(t, `ow_apk_install "$1" "$2" "$3"`, root, file, a.Name)

			want := map[string]int64{"/usr/sbin/wanlb": 0o755, "/lib/apk/packages/wanlb.list": 0o644,
				"/lib/apk/packages/wanlb.conffiles": 0o644, "/lib/apk/packages/wanlb.conffiles_static": 0o644}
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
			bin, err := os.ReadFile(filepath.Join(root, "usr/sbin/wanlb"))
			if err != nil {
				t.Fatal(err)
			}
			if fromDist {
				if err := pkgspec.CheckBinary(bin, a, true, true); err != nil {
					t.Errorf("installed /usr/sbin/wanlb: %v", err)
				}
			}
			if out := ow.Run(t, apkCmd+` info -e wanlb`, root); strings.TrimSpace(out) != "wanlb" {
				t.Errorf("apk info -e wanlb: %q", out)
			}
			// apk's own check of the installed files against the package.
			if out := ow.Run(t, apkCmd+` audit --system`, root); strings.TrimSpace(out) != "" {
				t.Errorf("apk audit after install:\n%s", out)
			}

			ow.Run(t, apkCmd+` del wanlb`, root)
			for name := range want {
				if _, err := os.Lstat(filepath.Join(root, name)); !os.IsNotExist(err) {
					t.Errorf("%s left after apk del (%v)", name, err)
				}
			}
		})
	}
}

// An upgrade keeps a locally changed /etc/config/wanlb and puts the new
// one beside it as wanlb.apk-new; the other files are the new version's.
// An unchanged config is replaced silently.
func TestAPKUpgradeKeepsConfig(t *testing.T) {
	ow := openwrttest.New(t)
	a, _ := pkgspec.ArchByName("x86_64")
	dir := t.TempDir()
	mk := func(version, bin, configComment string) string {
		p := spec(t, a, version, []byte(bin))
		for i, f := range p.Files {
			if f.Name == "/etc/config/wanlb" {
				p.Files[i].Data = append(append([]byte(nil), f.Data...), configComment...)
			}
		}
		file := filepath.Join(dir, version, FileName(p))
		os.MkdirAll(filepath.Dir(file), 0o755)
		if err := os.WriteFile(file, build(t, p), 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}
	v1, v2, v3 := mk("1.0.0-r1", "binary one", ""), mk("1.0.0-r2", "binary two", "# shipped with r2\n"), mk("1.1.0-r1", "binary three", "# shipped with 1.1.0\n")
	root := filepath.Join(dir, "root")
	config := filepath.Join(root, "etc/config/wanlb")

	ow.Run(t, `ow_apk_install "$1" "$2" x86_64`, root, v1)
	// Unchanged config: replaced by the new one, no .apk-new.
	ow.Run(t, `ow_apk_install "$1" "$2" x86_64`, root, v2)
	if got, _ := os.ReadFile(config); !strings.HasSuffix(string(got), "# shipped with r2\n") {
		t.Errorf("unchanged config not upgraded: %q", got)
	}
	if _, err := os.Stat(config + ".apk-new"); !os.IsNotExist(err) {
		t.Errorf("wanlb.apk-new for an unchanged config (%v)", err)
	}

	local := []byte("config globals 'globals'\n\toption enabled '0'\n")
	if err := os.WriteFile(config, local, 0o644); err != nil {
		t.Fatal(err)
	}
	ow.Run(t, `ow_apk_install "$1" "$2" x86_64`, root, v3)
	if got, _ := os.ReadFile(config); !bytes.Equal(got, local) {
		t.Errorf("upgrade replaced the changed config: %q", got)
	}
	if got, err := os.ReadFile(config + ".apk-new"); err != nil || !strings.HasSuffix(string(got), "# shipped with 1.1.0\n") {
		t.Errorf("wanlb.apk-new: %q, %v", got, err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "usr/sbin/wanlb")); string(got) != "binary three" {
		t.Errorf("binary after upgrade: %q", got)
	}
	if out := ow.Run(t, apkCmd+` info -e wanlb -v`, root); !strings.Contains(out, "wanlb-1.1.0-r1") {
		t.Errorf("installed version: %q", out)
	}
}

// offlineScripts runs script (after lib.sh, arguments: log, then args) in
// a private mount namespace whose /etc/init.d is a tmpfs holding stand-ins
// for /etc/init.d/wanlb and /etc/init.d/rpcd that append each call to
// log. The installers run package scripts for an offline root on this
// host: a script that did not stop early would call them.
const offlineScripts = `exec unshare -m --propagation private bash -c '
	source "$0" || exit 1
	mount -t tmpfs wanlb-test /etc/init.d || exit 1
	for s in wanlb rpcd; do
		printf "#!/bin/sh\necho \"%s \$*\" >> %s\n" "$s" "$1" > /etc/init.d/$s
		chmod 755 /etc/init.d/$s
	done
	shift
	@SCRIPT@
' "$0" "$@"`

// apk runs the package's scripts for an offline root on the build host
// (--force-no-chroot): install, upgrade and removal must do nothing
// there. The stand-ins would record any call to the service.
func TestAPKOfflineScriptsLeaveHost(t *testing.T) {
	ow := openwrttest.New(t)
	a, _ := pkgspec.ArchByName("x86_64")
	dir := t.TempDir()
	var files []string
	for _, v := range []string{"1.0.0-r1", "1.0.0-r2"} {
		p := spec(t, a, v, []byte("binary "+v))
		f := filepath.Join(dir, v, FileName(p))
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, build(t, p), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	log := filepath.Join(dir, "calls")
	root := filepath.Join(dir, "root")
	out := ow.Run(t, strings.Replace(offlineScripts, "@SCRIPT@", `
	ow_apk_install "$1" "$2" x86_64 && echo "$OW_INSTALL_OUTPUT" &&
	ow_apk_install "$1" "$3" x86_64 && echo "$OW_INSTALL_OUTPUT" &&
	apk --root "$1" --force-no-chroot --no-network del wanlb`, 1), log, root, files[0], files[1])
	for _, s := range []string{"wanlb-1.0.0-r1.post-install", "wanlb-1.0.0-r2.post-upgrade", "wanlb-1.0.0-r2.pre-deinstall"} {
		if !strings.Contains(out, "Executing "+s) {
			t.Errorf("apk did not run %s:\n%s", s, out)
		}
	}
	if calls, err := os.ReadFile(log); !os.IsNotExist(err) {
		t.Errorf("the scripts called the host's services: %q (%v)", calls, err)
	}
}

// The writer makes, byte for byte (before compression), what apk-tools'
// own `apk mkpkg` makes from the same tree, info and scripts
// (--no-rootnode: no entry for / itself, as in newer apk-tools).
func TestMatchesApkMkpkg(t *testing.T) {
	ow := openwrttest.New(t)
	a, _ := pkgspec.ArchByName("mipsel_24kc")
	p := spec(t, a, "1.2.3-r4", []byte("stand-in binary\n"))
	p.Depends = append(p.Depends, "a-second-dep")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for _, f := range append(append([]pkgspec.File(nil), p.Files...), metaFiles(p)...) {
		name := filepath.Join(tree, f.Name)
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, f.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(name, os.FileMode(f.Mode)); err != nil {
			t.Fatal(err)
		}
	}
	filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(p, 0o755)
		}
		return err
	})
	args := []string{"mkpkg", "--no-rootnode", "--files", tree, "--output", filepath.Join(dir, "ref.apk"),
		"--info", "name:" + p.Name, "--info", "version:" + p.Version, "--info", "arch:" + p.Arch,
		"--info", "description:" + oneLine(p.Description), "--info", "origin:" + p.Name,
		"--info", "maintainer:" + p.Maintainer, "--info", "url:" + p.URL,
		"--info", "depends:" + strings.Join(p.Depends, " ")}
	for name, s := range map[string][]byte{"post-install": p.Scripts.PostInstall, "post-upgrade": p.Scripts.PostUpgrade, "pre-deinstall": p.Scripts.PreDeinstall} {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, s, 0o755); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--script", name+":"+f)
	}
	mine := filepath.Join(dir, "mine.apk")
	if err := os.WriteFile(mine, build(t, p), 0o644); err != nil {
		t.Fatal(err)
	}
	mkpkg := `SOURCE_DATE_EPOCH=$1; export SOURCE_DATE_EPOCH; shift; apk "$@"`
	ow.Run(t, mkpkg, append([]string{strconv.FormatInt(testTime.Unix(), 10), "--no-xattrs"}, args...)...)
	ref, err := os.ReadFile(filepath.Join(dir, "ref.apk"))
	if err != nil {
		t.Fatal(err)
	}
	refRaw, err := uncompressed(ref)
	if err != nil {
		t.Fatal(err)
	}
	mineRaw, err := uncompressed(build(t, p))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mineRaw, refRaw) {
		dump := func(f string) string { return ow.Run(t, `apk adbdump "$1"`, f) }
		t.Errorf("not the bytes apk mkpkg writes (uncompressed: %d and %d bytes); adbdump:\n--- internal/apk\n%s\n--- apk mkpkg\n%s",
			len(mineRaw), len(refRaw), dump(mine), dump(filepath.Join(dir, "ref.apk")))
	}
}
