package ipk

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func buildTest(t *testing.T, a Arch, version string, bin []byte) []byte {
	t.Helper()
	p, err := Wanlb(a, version, bin, filepath.Join(repoRoot(t), "files"), testTime)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Build(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The package's structure for every architecture, from a stand-in binary.
func TestBuild(t *testing.T) {
	bin := []byte("not really a binary\n")
	for _, a := range Arches {
		t.Run(a.Name, func(t *testing.T) {
			data := buildTest(t, a, "1.2.3-4-gabcdef0", bin)
			name := filepath.Join(t.TempDir(), "wanlb_1.2.3-4-gabcdef0_"+a.Name+".ipk")
			c := checkIPK(t, name, data, a, false)
			if c.ControlField["Version"] != "1.2.3-4-gabcdef0" {
				t.Errorf("Version %q", c.ControlField["Version"])
			}
			if e, _ := Member(c.Data, "./usr/sbin/wanlb"); !bytes.Equal(e.Data, bin) {
				t.Error("the binary was not packaged as given")
			}
			for _, e := range append(append(c.Outer, c.Control...), c.Data...) {
				if e.ModTime != testTime.Unix() {
					t.Errorf("%s: mtime %d, want %d", e.Name, e.ModTime, testTime.Unix())
				}
			}
		})
	}
}

// Same inputs, same bytes: no build time, no user, no gzip name or date.
func TestDeterministic(t *testing.T) {
	a := Arches[0]
	one := buildTest(t, a, "1.0.0", []byte("x"))
	two := buildTest(t, a, "1.0.0", []byte("x"))
	if !bytes.Equal(one, two) {
		t.Fatal("two builds of the same input differ")
	}
	// gzip header: no file name flag, mtime 0.
	if one[3]&0x08 != 0 || !bytes.Equal(one[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("outer gzip header carries a name or a time: % x", one[:10])
	}
}

func TestBuildRejects(t *testing.T) {
	good := func() Package {
		return Package{
			Control: Control{Package: "wanlb", Version: "1.0", Architecture: "x86_64", Description: "d"},
			Files:   []File{{Name: "/etc/config/wanlb", Mode: 0o644}},
		}
	}
	for name, mod := range map[string]func(*Package){
		"bad version":        func(p *Package) { p.Control.Version = "v1.0" },
		"version with _":     func(p *Package) { p.Control.Version = "1.0_1" },
		"bad package name":   func(p *Package) { p.Control.Package = "Wan LB" },
		"no description":     func(p *Package) { p.Control.Description = " " },
		"relative path":      func(p *Package) { p.Files[0].Name = "etc/x" },
		"unclean path":       func(p *Package) { p.Files[0].Name = "/etc/../x" },
		"file type bits":     func(p *Package) { p.Files[0].Mode = 0o100644 },
		"twice":              func(p *Package) { p.Files = append(p.Files, p.Files[0]) },
		"file and directory": func(p *Package) { p.Files = append(p.Files, File{Name: "/etc/config/wanlb/x", Mode: 0o644}) },
		"missing conffile":   func(p *Package) { p.Conffiles = []string{"/etc/config/other"} },
		"comma in depends":   func(p *Package) { p.Control.Depends = []string{"a, b"} },
	} {
		p := good()
		mod(&p)
		if err := Build(&bytes.Buffer{}, p); err == nil {
			t.Errorf("%s: built", name)
		}
	}
	if err := Build(&bytes.Buffer{}, good()); err != nil {
		t.Errorf("the valid package: %v", err)
	}
}

func TestSanitizeVersion(t *testing.T) {
	for _, tc := range []struct {
		describe string
		count    int
		hash     string
		dirty    bool
		want     string
	}{
		{"v1.2.0-3-gabc1234", 0, "abc1234", false, "1.2.0-3-gabc1234"},
		{"v1.2.0-0-gabc1234", 0, "abc1234", true, "1.2.0-0-gabc1234+dirty"},
		{"", 7, "1b31f31", false, "0.0.0-7-g1b31f31"},
		{"", 7, "1b31f31", true, "0.0.0-7-g1b31f31+dirty"},
		{"", 0, "", false, "0.0.0"},
		{"v2.0.0_rc1/x-1-gabc", 0, "abc", false, "2.0.0.rc1.x-1-gabc"},
		{"vnext-1-gabc", 0, "abc", false, "0.0.0-next-1-gabc"},
	} {
		got := SanitizeVersion(tc.describe, tc.count, tc.hash, tc.dirty)
		if got != tc.want {
			t.Errorf("SanitizeVersion(%q, %d, %q, %v) = %q, want %q", tc.describe, tc.count, tc.hash, tc.dirty, got, tc.want)
		}
		if !ValidVersion(got) {
			t.Errorf("%q is not valid", got)
		}
	}
	for _, v := range []string{"", "v1", "1 2", "1_2", "1/2", "1-", "-1", "1--2", "a1"} {
		if ValidVersion(v) {
			t.Errorf("ValidVersion(%q) = true", v)
		}
	}
}

// checkELF itself, on this test binary (built for the architecture the
// tests run on, under qemu too).
func TestCheckELF(t *testing.T) {
	var arch Arch
	for _, a := range Arches {
		if a.GOARCH == runtime.GOARCH {
			arch = a
		}
	}
	if arch.Name == "" {
		t.Skipf("no package architecture for GOARCH=%s", runtime.GOARCH)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	// Not static on the host (cgo); softfloat not known here.
	checkELF(t, exe, data, arch, false, false)
}

// openwrt/wanlb/Makefile builds the same package: same Depends, same
// conffiles, every file of files/ installed with the same mode.
func TestOpenWrtMakefile(t *testing.T) {
	root := repoRoot(t)
	mk, err := os.ReadFile(filepath.Join(root, "openwrt", "wanlb", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(mk)
	for _, s := range []string{
		"include $(INCLUDE_DIR)/package.mk",
		"include ../../lang/golang/golang-package.mk",
		"GO_PKG:=github.com/wanlb/wanlb\n",
		"GO_PKG_BUILD_PKG:=github.com/wanlb/wanlb/cmd/wanlb\n",
		"github.com/wanlb/wanlb/pkg/cli.Version=$(PKG_VERSION)",
		"PKG_SOURCE_PROTO:=git",
		"$(eval $(call GoBinPackage,wanlb))",
		"$(eval $(call BuildPackage,wanlb))",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("Makefile lacks %q", s)
		}
	}

	m := regexp.MustCompile(`(?s)DEPENDS:=\$\(GO_ARCH_DEPENDS\)(.*?)\nendef`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("no DEPENDS:=$(GO_ARCH_DEPENDS) ... in Package/wanlb")
	}
	var deps []string
	for _, f := range strings.Fields(strings.ReplaceAll(m[1], "\\", " ")) {
		deps = append(deps, strings.TrimPrefix(f, "+"))
	}
	if !slices.Equal(deps, Depends) {
		t.Errorf("Makefile DEPENDS %v, pkg/ipk Depends %v", deps, Depends)
	}

	cm := regexp.MustCompile(`(?s)define Package/wanlb/conffiles\n(.*?)endef`).FindStringSubmatch(text)
	if cm == nil || !slices.Equal(strings.Fields(cm[1]), Conffiles) {
		t.Errorf("Makefile conffiles %q, want %v", cm, Conffiles)
	}

	files, err := RouterFiles(filepath.Join(root, "files"))
	if err != nil {
		t.Fatal(err)
	}
	install := regexp.MustCompile(`\$\((INSTALL_BIN|INSTALL_DATA|INSTALL_CONF)\) \$\(PKG_BUILD_DIR\)/files(/\S+) \$\(1\)(\S+)`)
	installed := map[string]string{}
	for _, m := range install.FindAllStringSubmatch(text, -1) {
		dest := m[3]
		if strings.HasSuffix(dest, "/") {
			dest += filepath.Base(m[2])
		}
		if dest != m[2] {
			t.Errorf("Makefile installs files%s as %s", m[2], dest)
		}
		installed[m[2]] = m[1]
	}
	for _, f := range files {
		how, ok := installed[f.Name]
		switch {
		case !ok:
			t.Errorf("Makefile does not install files%s", f.Name)
		case f.Mode == 0o755 && how != "INSTALL_BIN", f.Mode == 0o644 && how != "INSTALL_DATA":
			t.Errorf("Makefile installs files%s with %s, but the .ipk gives it mode %o", f.Name, how, f.Mode)
		}
		delete(installed, f.Name)
	}
	for n := range installed {
		t.Errorf("Makefile installs files%s, which does not exist", n)
	}
	if !strings.Contains(text, "$(INSTALL_BIN) $(GO_PKG_BUILD_BIN_DIR)/wanlb $(1)/usr/sbin/wanlb") {
		t.Error("Makefile does not install the binary as /usr/sbin/wanlb")
	}
}

// The LuCI menu entry leads to a view that exists, with an ACL that lets
// it read the wanlb config.
func TestLuCIFiles(t *testing.T) {
	root := filepath.Join(repoRoot(t), "files")
	var menu map[string]struct {
		Title  string `json:"title"`
		Order  int    `json:"order"`
		Action struct {
			Type string `json:"type"`
			Path string `json:"path"`
		} `json:"action"`
		Depends struct {
			ACL []string        `json:"acl"`
			UCI map[string]bool `json:"uci"`
		} `json:"depends"`
	}
	readJSON(t, filepath.Join(root, "usr/share/luci/menu.d/luci-app-wanlb.json"), &menu)
	e, ok := menu["admin/network/wanlb"]
	if !ok {
		t.Fatalf("no admin/network/wanlb entry: %v", menu)
	}
	if e.Title == "" || e.Action.Type != "view" || e.Action.Path != "wanlb/redirect" {
		t.Errorf("entry %+v: want a titled view action wanlb/redirect", e)
	}
	if _, err := os.Stat(filepath.Join(root, "www/luci-static/resources/view", e.Action.Path+".js")); err != nil {
		t.Errorf("the view: %v", err)
	}
	if !slices.Equal(e.Depends.ACL, []string{"luci-app-wanlb"}) || !e.Depends.UCI["wanlb"] {
		t.Errorf("depends %+v", e.Depends)
	}

	var acl map[string]struct {
		Description string                     `json:"description"`
		Read        map[string]json.RawMessage `json:"read"`
		Write       map[string][]string        `json:"write"`
	}
	readJSON(t, filepath.Join(root, "usr/share/rpcd/acl.d/luci-app-wanlb.json"), &acl)
	a, ok := acl["luci-app-wanlb"]
	var uciRead []string
	var fileRead map[string][]string
	json.Unmarshal(a.Read["uci"], &uciRead)
	json.Unmarshal(a.Read["file"], &fileRead)
	if !ok || a.Description == "" || !slices.Equal(uciRead, []string{"wanlb"}) {
		t.Errorf("ACL %+v: want luci-app-wanlb reading uci wanlb", acl)
	}
	// The daemon's note of how the UI serves (http or https), and nothing else.
	if len(fileRead) != 1 || !slices.Equal(fileRead["/var/run/wanlb/ui.json"], []string{"read"}) {
		t.Errorf("ACL reads files %v: want /var/run/wanlb/ui.json only", fileRead)
	}
	if len(a.Write) != 0 {
		t.Errorf("ACL grants writes %v: the menu entry only reads", a.Write)
	}

	js, err := os.ReadFile(filepath.Join(root, "www/luci-static/resources/view/wanlb/redirect.js"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"'use strict';", "'require view';", "'require uci';", "uci.load('wanlb')", "return view.extend("} {
		if !bytes.Contains(js, []byte(s)) {
			t.Errorf("redirect.js lacks %q", s)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// The packages `make ipk` wrote (WANLB_IPK_DIR=dist): one per
// architecture, each complete, with a static binary of that machine.
func TestDistIPKs(t *testing.T) {
	dir := os.Getenv("WANLB_IPK_DIR")
	if dir == "" {
		t.Skip("WANLB_IPK_DIR not set (make ipk sets it)")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot(t), dir)
	}
	var version string
	for _, a := range Arches {
		t.Run(a.Name, func(t *testing.T) {
			m, err := filepath.Glob(filepath.Join(dir, "wanlb_*_"+a.Name+".ipk"))
			if err != nil || len(m) != 1 {
				t.Fatalf("want one wanlb_*_%s.ipk in %s, found %v", a.Name, dir, m)
			}
			data, err := os.ReadFile(m[0])
			if err != nil {
				t.Fatal(err)
			}
			c := checkIPK(t, m[0], data, a, true)
			if version == "" {
				version = c.ControlField["Version"]
			} else if c.ControlField["Version"] != version {
				t.Errorf("Version %s, other packages %s", c.ControlField["Version"], version)
			}
		})
	}
}
