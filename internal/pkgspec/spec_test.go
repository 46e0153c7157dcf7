package pkgspec

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

func TestGitVersion(t *testing.T) {
	for _, tc := range []struct {
		describe string
		count    int
		want     string
	}{
		{"v1.2.0-0-gabc1234", 40, "1.2.0-r1"},
		{"v1.2.0-3-gabc1234", 43, "1.2.0-r4"},
		{"v1.2-3-gabc1234", 43, "1.2.0-r4"},
		{"v2-0-gabc1234", 43, "2.0.0-r1"},
		{"v1.2.0-rc1-5-gabc1234", 50, "1.2.0-r6"},
		{"v01.002.3-0-gabc1234", 5, "1.2.3-r1"},
		{"", 31, "0.0.0-r31"},
		{"", 0, "0.0.0-r0"},
	} {
		got, err := GitVersion(tc.describe, tc.count)
		if err != nil || got != tc.want {
			t.Errorf("GitVersion(%q, %d) = %q, %v; want %q", tc.describe, tc.count, got, err, tc.want)
		}
		if !ValidVersion(got) {
			t.Errorf("%q is not valid", got)
		}
	}
	for _, d := range []string{"vnext-1-gabc", "v1.2.0", "v1.2.0-x-gabc", "v1.2.0-1-abc"} {
		if v, err := GitVersion(d, 1); err == nil {
			t.Errorf("GitVersion(%q) = %q, want an error", d, v)
		}
	}
	// apk refuses opkg's free-form versions; both take X.Y.Z-rN only.
	for _, v := range []string{"", "1.2.0", "0.0.0-31-g4e960c1", "1.2.0+dirty", "1.2.0-r", "1.2-r1", "v1.2.0-r1", "1.2.0-r01", "1.2.0-r1 ", "1.2.0_rc1-r1"} {
		if ValidVersion(v) {
			t.Errorf("ValidVersion(%q) = true", v)
		}
	}
	if got := BinaryVersion("1.2.0-r4", "abc1234", true); got != "1.2.0-r4 (git abc1234-dirty)" {
		t.Errorf("BinaryVersion = %q", got)
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
	if err := CheckBinary(data, arch, false, false); err != nil {
		t.Error(err)
	}
	// And it tells a wrong machine.
	other := Arches[0]
	if other.Machine == arch.Machine {
		other = Arches[len(Arches)-1]
	}
	if CheckBinary(data, other, false, false) == nil {
		t.Errorf("CheckBinary took a %s binary for %s", arch.Name, other.Name)
	}
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
		"include $(TOPDIR)/feeds/packages/lang/golang/golang-package.mk",
		"GO_PKG:=github.com/wanlb/wanlb\n",
		"GO_PKG_BUILD_PKG:=github.com/wanlb/wanlb/cmd/wanlb\n",
		"GO_PKG_LDFLAGS_X:=github.com/wanlb/wanlb/internal/cli.Version=$(PKG_VERSION)-r$(PKG_RELEASE)",
		"GO_PKG_GCFLAGS:=" + GCFlags + "\n",
		"GO_PKG_TAGS:=" + BuildTags + "\n",
		"sh $(CURDIR)/prepare.sh \"$(WANLB_SRC)\" \"$(PKG_BUILD_DIR)\"",
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
		t.Errorf("Makefile DEPENDS %v, internal/pkgspec Depends %v", deps, Depends)
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
	// Writing wanlb's config is what the web UI asks rpcd about before it
	// lets a router login change settings; nothing else is writable.
	if len(a.Write) != 1 || !slices.Equal(a.Write["uci"], []string{"wanlb"}) {
		t.Errorf("ACL grants writes %v: want uci wanlb only", a.Write)
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
