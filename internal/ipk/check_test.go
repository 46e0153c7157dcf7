package ipk

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/pkgspec"
)

// repoRoot is the module root (the directory holding go.mod).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// checkIPK verifies one wanlb .ipk against everything opkg and the router
// rely on. name is the file name (empty: not checked); with wantELF the
// binary must be an ELF executable of arch's machine.
func checkIPK(t *testing.T, name string, data []byte, arch pkgspec.Arch, wantELF bool) *Contents {
	t.Helper()
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		t.Fatalf("%s: not gzip (an ar archive is not what OpenWrt's ipkg-build writes)", name)
	}
	c, err := Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}

	// Outer archive: exactly these three members, in this order.
	var outerNames []string
	for _, e := range c.Outer {
		outerNames = append(outerNames, e.Name)
		if e.Typeflag != '0' || e.Uid != 0 || e.Gid != 0 || e.Mode != 0o644 {
			t.Errorf("%s: outer %s: type %c uid %d gid %d mode %o, want a regular 0644 file of 0:0", name, e.Name, e.Typeflag, e.Uid, e.Gid, e.Mode)
		}
	}
	if got, want := strings.Join(outerNames, " "), "./debian-binary ./data.tar.gz ./control.tar.gz"; got != want {
		t.Fatalf("%s: outer members %q, want %q", name, got, want)
	}
	if db, _ := Member(c.Outer, "./debian-binary"); string(db.Data) != "2.0\n" {
		t.Errorf("%s: debian-binary %q, want \"2.0\\n\"", name, db.Data)
	}

	// Control archive.
	wantControl := map[string]int64{"./": 0o755, "./control": 0o644, "./conffiles": 0o644, "./postinst": 0o755, "./prerm": 0o755}
	var controlNames []string
	for _, e := range c.Control {
		controlNames = append(controlNames, e.Name)
		mode, ok := wantControl[e.Name]
		if !ok {
			t.Errorf("%s: unexpected control member %s", name, e.Name)
		} else if e.Mode != mode {
			t.Errorf("%s: control %s mode %o, want %o", name, e.Name, e.Mode, mode)
		}
		if e.Uid != 0 || e.Gid != 0 || e.Uname != "" || e.Gname != "" {
			t.Errorf("%s: control %s owned by %d(%s):%d(%s), want 0:0", name, e.Name, e.Uid, e.Uname, e.Gid, e.Gname)
		}
	}
	if len(controlNames) != len(wantControl) || !sort.StringsAreSorted(controlNames) {
		t.Errorf("%s: control members %v, want the %d of %v in name order", name, controlNames, len(wantControl), wantControl)
	}
	f := c.ControlField
	if f == nil {
		t.Fatalf("%s: no control file", name)
	}
	if f["Package"] != "wanlb" {
		t.Errorf("%s: Package %q", name, f["Package"])
	}
	if !ValidVersion(f["Version"]) {
		t.Errorf("%s: Version %q is not a valid opkg version", name, f["Version"])
	}
	if f["Architecture"] != arch.Name {
		t.Errorf("%s: Architecture %q, want %q", name, f["Architecture"], arch.Name)
	}
	if name != "" {
		if want := "wanlb_" + f["Version"] + "_" + f["Architecture"] + ".ipk"; filepath.Base(name) != want {
			t.Errorf("file name %s, want %s (from the control file)", filepath.Base(name), want)
		}
	}
	if f["Depends"] == "" || f["Depends"] != strings.Join(pkgspec.Depends, ", ") {
		t.Errorf("%s: Depends %q, want %q", name, f["Depends"], strings.Join(pkgspec.Depends, ", "))
	}
	if size, err := strconv.ParseInt(f["Installed-Size"], 10, 64); err != nil || size != c.DataTarSize {
		t.Errorf("%s: Installed-Size %q, want the size of data.tar, %d (as ipkg-build computes it)", name, f["Installed-Size"], c.DataTarSize)
	}
	for _, k := range []string{"Section", "Priority", "Maintainer", "Source", "Description"} {
		if f[k] == "" {
			t.Errorf("%s: control field %s missing", name, k)
		}
	}
	if cf, _ := Member(c.Control, "./conffiles"); string(cf.Data) != "/etc/config/wanlb\n" {
		t.Errorf("%s: conffiles %q, want \"/etc/config/wanlb\\n\"", name, cf.Data)
	}
	for _, s := range []string{"./postinst", "./prerm"} {
		e, _ := Member(c.Control, s)
		text := string(e.Data)
		if !strings.HasPrefix(text, "#!/bin/sh\n") {
			t.Errorf("%s: %s does not start with #!/bin/sh", name, s)
		}
		if !strings.Contains(text, `[ -n "${IPKG_INSTROOT}" ] && exit 0`) {
			t.Errorf("%s: %s does not return early while building an image (IPKG_INSTROOT)", name, s)
		}
	}

	// Data archive: every file of files/, the binary, all directories.
	root := repoRoot(t)
	routerFiles, err := pkgspec.RouterFiles(filepath.Join(root, "files"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]File{}
	for _, rf := range routerFiles {
		want["."+rf.Name] = rf
	}
	dirs := map[string]bool{}
	var mtime int64 = -1
	for _, e := range c.Data {
		if e.Uid != 0 || e.Gid != 0 || e.Uname != "" || e.Gname != "" {
			t.Errorf("%s: %s owned by %d(%s):%d(%s), want 0:0", name, e.Name, e.Uid, e.Uname, e.Gid, e.Gname)
		}
		if mtime == -1 {
			mtime = e.ModTime
		} else if e.ModTime != mtime {
			t.Errorf("%s: %s mtime %d, others %d: mtimes must be one fixed time", name, e.Name, e.ModTime, mtime)
		}
		if e.Typeflag == '5' {
			if !strings.HasSuffix(e.Name, "/") || e.Mode != 0o755 {
				t.Errorf("%s: directory %s mode %o", name, e.Name, e.Mode)
			}
			dirs[e.Name] = true
			continue
		}
		if e.Typeflag != '0' {
			t.Errorf("%s: %s has tar type %c, want regular files and directories only", name, e.Name, e.Typeflag)
		}
		if parent := e.Name[:strings.LastIndex(e.Name, "/")+1]; !dirs[parent] {
			t.Errorf("%s: %s comes before (or without) its directory %s", name, e.Name, parent)
		}
		if e.Name == "./usr/sbin/wanlb" {
			continue
		}
		rf, ok := want[e.Name]
		if !ok {
			t.Errorf("%s: %s is not in files/", name, e.Name)
			continue
		}
		delete(want, e.Name)
		if !bytes.Equal(e.Data, rf.Data) {
			t.Errorf("%s: %s differs from files%s", name, e.Name, rf.Name)
		}
	}
	for n := range want {
		t.Errorf("%s: files%s is missing", name, n[1:])
	}
	if !dirs["./"] {
		t.Errorf("%s: data.tar has no ./ entry", name)
	}

	mode := func(p string, m int64) Entry {
		t.Helper()
		e, ok := Member(c.Data, p)
		if !ok {
			t.Errorf("%s: %s missing", name, p)
		} else if e.Mode != m {
			t.Errorf("%s: %s mode %o, want %o", name, p, e.Mode, m)
		}
		return e
	}
	bin := mode("./usr/sbin/wanlb", 0o755)
	init := mode("./etc/init.d/wanlb", 0o755)
	if !bytes.HasPrefix(init.Data, []byte("#!/bin/sh /etc/rc.common\n")) {
		t.Errorf("%s: init script is not an rc.common script", name)
	}
	for _, s := range []string{"USE_PROCD=1", "START=95", "STOP=10", "procd_add_reload_trigger wanlb", "procd_set_param respawn", "procd_set_param stderr 1", "/usr/sbin/wanlb", "reload_service()"} {
		if !bytes.Contains(init.Data, []byte(s)) {
			t.Errorf("%s: init script lacks %q", name, s)
		}
	}
	mode("./etc/config/wanlb", 0o644)
	mode("./etc/hotplug.d/iface/30-wanlb", 0o644)
	mode("./etc/uci-defaults/99-wanlb", 0o755)
	mode("./usr/share/luci/menu.d/luci-app-wanlb.json", 0o644)
	mode("./usr/share/rpcd/acl.d/luci-app-wanlb.json", 0o644)
	mode("./www/luci-static/resources/view/wanlb/redirect.js", 0o644)

	if wantELF {
		checkELF(t, name, bin.Data, arch, true, true)
	}
	return c
}

// checkELF: data is the binary for arch (pkgspec.CheckBinary).
func checkELF(t *testing.T, name string, data []byte, arch pkgspec.Arch, static, softfloat bool) {
	t.Helper()
	if err := pkgspec.CheckBinary(data, arch, static, softfloat); err != nil {
		t.Errorf("%s: /usr/sbin/wanlb: %v", name, err)
	}
}
