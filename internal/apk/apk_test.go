package apk

import (
	"bytes"
	"compress/flate"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/openwrttest"

	"github.com/wanlb/wanlb/internal/pkgspec"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

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

func spec(t *testing.T, a pkgspec.Arch, version string, bin []byte) pkgspec.Package {
	t.Helper()
	p, err := pkgspec.Wanlb(a, version, bin, filepath.Join(repoRoot(t), "files"), testTime)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func build(t *testing.T, p pkgspec.Package) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Build(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkAPK verifies one wanlb .apk against the description it was made
// from and what OpenWrt 25.12 expects; with wantELF the binary must be
// one of arch's machine.
func checkAPK(t *testing.T, name string, data []byte, arch pkgspec.Arch, wantELF bool) *Contents {
	t.Helper()
	c, err := Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if c.Name != "wanlb" || c.Arch != arch.Name || !pkgspec.ValidVersion(c.Version) {
		t.Errorf("%s: name %q arch %q version %q", name, c.Name, c.Arch, c.Version)
	}
	if name != "" && filepath.Base(name) != "wanlb-"+c.Version+".apk" {
		t.Errorf("file name %s, want wanlb-%s.apk (OpenWrt's <name>-<version>.apk)", filepath.Base(name), c.Version)
	}
	if !slices.Equal(c.Depends, pkgspec.Depends) {
		t.Errorf("%s: depends %v, want %v", name, c.Depends, pkgspec.Depends)
	}
	for _, f := range []string{c.Description, c.Maintainer, c.URL, c.Origin} {
		if f == "" || strings.Contains(f, "\n") {
			t.Errorf("%s: empty or multi-line info field %q", name, f)
		}
	}

	// Every file of files/, the binary and OpenWrt's metadata files, with
	// their modes, owned by root; every directory 0755 root.
	router, err := pkgspec.RouterFiles(filepath.Join(repoRoot(t), "files"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"/usr/sbin/wanlb": 0o755, "/lib/apk/packages/wanlb.list": 0o644,
		"/lib/apk/packages/wanlb.conffiles": 0o644, "/lib/apk/packages/wanlb.conffiles_static": 0o644}
	for _, f := range router {
		want[f.Name] = f.Mode
	}
	var total uint64
	var names []string
	for _, d := range c.Dirs {
		names = append(names, d.Name)
		if d.Mode != 0o755 || d.User != "root" || d.Group != "root" {
			t.Errorf("%s: directory %s: %o %s:%s", name, d.Name, d.Mode, d.User, d.Group)
		}
		for _, f := range d.Files {
			p := "/" + d.Name + "/" + f.Name
			m, ok := want[p]
			switch {
			case !ok:
				t.Errorf("%s: unexpected file %s", name, p)
			case int64(f.Mode) != m || f.User != "root" || f.Group != "root":
				t.Errorf("%s: %s: %o %s:%s, want %o root:root", name, p, f.Mode, f.User, f.Group, m)
			}
			if f.MTime == 0 {
				t.Errorf("%s: %s: no mtime", name, p)
			}
			delete(want, p)
			total += f.Size
		}
	}
	for p := range want {
		t.Errorf("%s: %s missing", name, p)
	}
	if !slices.IsSorted(names) {
		t.Errorf("%s: directories not in apk's order: %v", name, names)
	}
	if c.InstalledSize != total {
		t.Errorf("%s: installed-size %d, files add up to %d", name, c.InstalledSize, total)
	}
	for _, rf := range router {
		if f, _ := c.File(rf.Name); !bytes.Equal(f.Data, rf.Data) {
			t.Errorf("%s: %s differs from files%s", name, rf.Name, rf.Name)
		}
	}
	if f, _ := c.File("/lib/apk/packages/wanlb.conffiles"); string(f.Data) != "/etc/config/wanlb\n" {
		t.Errorf("%s: wanlb.conffiles %q", name, f.Data)
	}
	if f, _ := c.File("/lib/apk/packages/wanlb.conffiles_static"); !strings.HasPrefix(string(f.Data), "/etc/config/wanlb ") || len(f.Data) != len("/etc/config/wanlb ")+64+1 {
		t.Errorf("%s: wanlb.conffiles_static %q", name, f.Data)
	}
	if f, _ := c.File("/lib/apk/packages/wanlb.list"); !strings.Contains(string(f.Data), "/usr/sbin/wanlb\n") || !strings.Contains(string(f.Data), "/etc/init.d/wanlb\n") {
		t.Errorf("%s: wanlb.list %q", name, f.Data)
	}

	// The scripts: install, upgrade and removal, each stopping for an
	// offline root before doing anything.
	for _, s := range []string{"post-install", "post-upgrade", "pre-deinstall"} {
		text := c.Scripts[s]
		lines := strings.Split(text, "\n")
		if len(lines) < 4 || lines[0] != "#!/bin/sh" || !strings.Contains(text, `[ "$(pwd -P)" = / ] || exit 0`) {
			t.Errorf("%s: %s script %q", name, s, text)
		}
	}
	if len(c.Scripts) != 3 {
		t.Errorf("%s: scripts %v, want post-install, post-upgrade, pre-deinstall", name, c.Scripts)
	}
	if wantELF {
		bin, _ := c.File("/usr/sbin/wanlb")
		if err := pkgspec.CheckBinary(bin.Data, arch, true, true); err != nil {
			t.Errorf("%s: /usr/sbin/wanlb: %v", name, err)
		}
	}
	return c
}

func TestBuild(t *testing.T) {
	bin := []byte("not really a binary\n")
	for _, a := range pkgspec.Arches {
		t.Run(a.Name, func(t *testing.T) {
			p := spec(t, a, "1.2.3-r4", bin)
			c := checkAPK(t, filepath.Join(t.TempDir(), FileName(p)), build(t, p), a, false)
			if f, _ := c.File("/usr/sbin/wanlb"); !bytes.Equal(f.Data, bin) || f.MTime != uint64(testTime.Unix()) {
				t.Error("the binary was not packaged as given")
			}
		})
	}
}

// Same inputs, same bytes.
func TestDeterministic(t *testing.T) {
	p := spec(t, pkgspec.Arches[0], "1.0.0-r1", []byte("x"))
	if !bytes.Equal(build(t, p), build(t, p)) {
		t.Fatal("two builds of the same input differ")
	}
}

// Values of every size the format has: blobs of 8, 16 and 32-bit length,
// integers direct, 32 and 64-bit, and an empty file (no DATA block).
func TestSizes(t *testing.T) {
	p := spec(t, pkgspec.Arches[4], "1.0.0-r1", bytes.Repeat([]byte("b"), 70000))
	p.Files = append(p.Files, pkgspec.File{Name: "/etc/wanlb/empty", Mode: 0o600}, pkgspec.File{Name: "/etc/wanlb/mid", Mode: 0o640, Data: bytes.Repeat([]byte("m"), 300)})
	p.ModTime = time.Unix(1<<32+5, 0)
	c, err := Read(bytes.NewReader(build(t, p)))
	if err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int{"/usr/sbin/wanlb": 70000, "/etc/wanlb/empty": 0, "/etc/wanlb/mid": 300} {
		f, ok := c.File(name)
		if !ok || len(f.Data) != size || f.MTime != 1<<32+5 {
			t.Errorf("%s: %v, %d bytes, mtime %d", name, ok, len(f.Data), f.MTime)
		}
	}
	if f, _ := c.File("/etc/wanlb/empty"); f.Mode != 0o600 {
		t.Errorf("empty file mode %o", f.Mode)
	}
}

func TestBuildRejects(t *testing.T) {
	for name, mod := range map[string]func(*pkgspec.Package){
		"opkg-style version": func(p *pkgspec.Package) { p.Version = "0.0.0-31-g4e960c1" },
		"no release":         func(p *pkgspec.Package) { p.Version = "1.0.0" },
		"bad package name":   func(p *pkgspec.Package) { p.Name = "wan lb" },
		"bad dependency":     func(p *pkgspec.Package) { p.Depends = []string{"a, b"} },
		"bad arch":           func(p *pkgspec.Package) { p.Arch = "MIPS 24Kc" },
		"no description":     func(p *pkgspec.Package) { p.Description = " " },
		"relative path":      func(p *pkgspec.Package) { p.Files[0].Name = "etc/x" },
		"unclean path":       func(p *pkgspec.Package) { p.Files[0].Name = "/etc/../x" },
		"file in /":          func(p *pkgspec.Package) { p.Files[0].Name = "/x" },
		"file type bits":     func(p *pkgspec.Package) { p.Files[0].Mode = 0o100644 },
		"twice":              func(p *pkgspec.Package) { p.Files = append(p.Files, p.Files[0]) },
		"file and directory": func(p *pkgspec.Package) {
			p.Files = append(p.Files, pkgspec.File{Name: p.Files[0].Name + "/x", Mode: 0o644})
		},
		"missing conffile": func(p *pkgspec.Package) { p.Conffiles = []string{"/etc/config/other"} },
		"metadata file": func(p *pkgspec.Package) {
			p.Files = append(p.Files, pkgspec.File{Name: "/lib/apk/packages/wanlb.list"})
		},
	} {
		p := spec(t, pkgspec.Arches[4], "1.0.0-r1", []byte("x"))
		mod(&p)
		if err := Build(&bytes.Buffer{}, p); err == nil {
			t.Errorf("%s: built", name)
		}
	}
}

// Read refuses damaged packages.
func TestReadRejects(t *testing.T) {
	good := build(t, spec(t, pkgspec.Arches[4], "1.0.0-r1", []byte("the binary")))
	c, err := Read(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	// An uncompressed copy, to damage it at known places.
	raw, err := uncompressed(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read(bytes.NewReader(raw)); err != nil {
		t.Fatalf("uncompressed: %v", err)
	}
	bin, _ := c.File("/usr/sbin/wanlb")
	at := bytes.Index(raw, bin.Data)
	for name, damage := range map[string]func([]byte){
		"schema":    func(b []byte) { b[4] = 'x' },
		"file data": func(b []byte) { b[at] ^= 1 },
		"truncated": nil,
	} {
		b := append([]byte(nil), raw...)
		if damage != nil {
			damage(b)
		} else {
			b = b[:len(b)-16]
		}
		if _, err := Read(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}

// The packages `make packages` wrote (WANLB_DIST_DIR=dist): one per
// architecture in dist/apk/<arch>/, complete, with a static binary of that
// machine, all of one version.
func TestDistAPKs(t *testing.T) {
	dir := os.Getenv("WANLB_DIST_DIR")
	if dir == "" {
		// make unit and make qemu leave this test out (-skip); make
		// packages runs it. In CI a run without the packages is a failure.
		openwrttest.Unavailable(t, "WANLB_DIST_DIR not set (make packages sets it)")
	}
	var version string
	for _, a := range pkgspec.Arches {
		t.Run(a.Name, func(t *testing.T) {
			m, _ := filepath.Glob(filepath.Join(dir, "apk", a.Name, "wanlb-*.apk"))
			if len(m) != 1 {
				t.Fatalf("want one wanlb-*.apk in %s/apk/%s, found %v", dir, a.Name, m)
			}
			data, err := os.ReadFile(m[0])
			if err != nil {
				t.Fatal(err)
			}
			c := checkAPK(t, m[0], data, a, true)
			if version == "" {
				version = c.Version
			} else if c.Version != version {
				t.Errorf("version %s, other packages %s", c.Version, version)
			}
		})
	}
}

func uncompressed(apk []byte) ([]byte, error) {
	return io.ReadAll(flate.NewReader(bytes.NewReader(apk[4:])))
}
