package ipk

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/openwrttest"

	"github.com/wanlb/wanlb/internal/pkgspec"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func buildTest(t *testing.T, a pkgspec.Arch, version string, bin []byte) []byte {
	t.Helper()
	p, err := pkgspec.Wanlb(a, version, bin, filepath.Join(repoRoot(t), "files"), testTime)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := BuildSpec(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The package's structure for every architecture, from a stand-in binary.
func TestBuild(t *testing.T) {
	bin := []byte("not really a binary\n")
	for _, a := range pkgspec.Arches {
		t.Run(a.Name, func(t *testing.T) {
			data := buildTest(t, a, "1.2.3-r4", bin)
			name := filepath.Join(t.TempDir(), "wanlb_1.2.3-r4_"+a.Name+".ipk")
			c := checkIPK(t, name, data, a, false)
			if c.ControlField["Version"] != "1.2.3-r4" {
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
	a := pkgspec.Arches[0]
	one := buildTest(t, a, "1.0.0-r1", []byte("x"))
	two := buildTest(t, a, "1.0.0-r1", []byte("x"))
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

// The packages `make packages` wrote (WANLB_DIST_DIR=dist): one per
// architecture, each complete, with a static binary of that machine.
func TestDistIPKs(t *testing.T) {
	dir := os.Getenv("WANLB_DIST_DIR")
	if dir == "" {
		// make unit and make qemu leave this test out (-skip); make
		// packages runs it. In CI a run without the packages is a failure.
		openwrttest.Unavailable(t, "WANLB_DIST_DIR not set (make packages sets it)")
	}
	var version string
	for _, a := range pkgspec.Arches {
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
