// Package ipk builds OpenWrt .ipk packages the way OpenWrt's
// scripts/ipkg-build does, without fakeroot: an outer gzip'd tar holding
// ./debian-binary ("2.0\n"), ./data.tar.gz and ./control.tar.gz, in that
// order. Every member is owned by 0:0 with the mode it is given here, all
// timestamps are one fixed time, and gzip headers carry no name or time,
// so the same inputs give the same bytes.
package ipk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/wanlb/wanlb/internal/pkgspec"
)

// File is one file of a package (see pkgspec.File).
type File = pkgspec.File

// Control is the package's control file. Installed-Size is computed.
type Control struct {
	Package      string
	Version      string
	Depends      []string
	Source       string
	SourceName   string
	Section      string
	Priority     string
	Maintainer   string
	Architecture string
	// Description: the first line is the summary; further lines are
	// written as continuation lines.
	Description string
}

// Package is everything Build needs.
type Package struct {
	Control   Control
	Conffiles []string // absolute paths, e.g. /etc/config/wanlb
	Postinst  []byte   // optional
	Prerm     []byte   // optional
	Files     []File
	// ModTime is the time written for every tar member (ipkg-build uses
	// SOURCE_DATE_EPOCH).
	ModTime time.Time
}

// FromSpec is the opkg package of the shared description p.
func FromSpec(p pkgspec.Package) Package {
	return Package{
		Control: Control{
			Package:      p.Name,
			Version:      p.Version,
			Depends:      append([]string(nil), p.Depends...),
			Source:       p.URL,
			SourceName:   p.Name,
			Section:      p.Section,
			Priority:     "optional",
			Maintainer:   p.Maintainer,
			Architecture: p.Arch,
			Description:  p.Description,
		},
		Conffiles: append([]string(nil), p.Conffiles...),
		Postinst:  p.Scripts.Postinst,
		Prerm:     p.Scripts.Prerm,
		Files:     p.Files,
		ModTime:   p.ModTime,
	}
}

var (
	namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*$`)
	// opkg's [epoch:]upstream[-revision]; starts with a digit; no spaces,
	// no '/', nor '_' (the separator in the file name).
	versionPattern = regexp.MustCompile(`^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$`)
	archPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// ValidVersion reports whether v is a version opkg parses and compares
// sensibly and that fits in an .ipk file name.
func ValidVersion(v string) bool {
	return versionPattern.MatchString(v) && !strings.HasSuffix(v, "-") && !strings.Contains(v, "--")
}

// FileName is the name ipkg-build gives the package: <name>_<version>_<arch>.ipk.
func (c Control) FileName() string {
	return fmt.Sprintf("%s_%s_%s.ipk", c.Package, c.Version, c.Architecture)
}

func (c Control) check() error {
	var errs []string
	if !namePattern.MatchString(c.Package) {
		errs = append(errs, fmt.Sprintf("package name %q", c.Package))
	}
	if !ValidVersion(c.Version) {
		errs = append(errs, fmt.Sprintf("version %q", c.Version))
	}
	if !archPattern.MatchString(c.Architecture) {
		errs = append(errs, fmt.Sprintf("architecture %q", c.Architecture))
	}
	for _, d := range c.Depends {
		if strings.TrimSpace(d) == "" || strings.ContainsAny(d, ",\n") {
			errs = append(errs, fmt.Sprintf("dependency %q", d))
		}
	}
	if strings.TrimSpace(c.Description) == "" {
		errs = append(errs, "empty description")
	}
	if len(errs) > 0 {
		return fmt.Errorf("ipk: bad control: %s", strings.Join(errs, ", "))
	}
	return nil
}

// Text renders the control file with the given Installed-Size, fields in
// the order OpenWrt's package-ipkg.mk writes them.
func (c Control) Text(installedSize int64) string {
	var b strings.Builder
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	field("Package", c.Package)
	field("Version", c.Version)
	field("Depends", strings.Join(c.Depends, ", "))
	field("Source", c.Source)
	field("SourceName", c.SourceName)
	field("Section", c.Section)
	field("Priority", c.Priority)
	field("Maintainer", c.Maintainer)
	field("Architecture", c.Architecture)
	field("Installed-Size", fmt.Sprint(installedSize))
	lines := strings.Split(strings.TrimSpace(c.Description), "\n")
	fmt.Fprintf(&b, "Description: %s\n", strings.TrimSpace(lines[0]))
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		if l == "" {
			l = "."
		}
		fmt.Fprintf(&b, " %s\n", l)
	}
	return b.String()
}

// BuildSpec writes the .ipk of the shared description p to w.
func BuildSpec(w io.Writer, p pkgspec.Package) error { return Build(w, FromSpec(p)) }

// Build writes the .ipk to w.
func Build(w io.Writer, p Package) error {
	if err := p.Control.check(); err != nil {
		return err
	}
	dataTar, err := tarTree(p.Files, p.ModTime)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, f := range p.Files {
		have[path.Clean(f.Name)] = true
	}
	for _, c := range p.Conffiles {
		if !have[c] {
			return fmt.Errorf("ipk: conffile %s is not in the package", c)
		}
	}

	control := []File{{Name: "/control", Mode: 0o644, Data: []byte(p.Control.Text(int64(len(dataTar))))}}
	if len(p.Conffiles) > 0 {
		cf := append([]string(nil), p.Conffiles...)
		sort.Strings(cf)
		control = append(control, File{Name: "/conffiles", Mode: 0o644, Data: []byte(strings.Join(cf, "\n") + "\n")})
	}
	if p.Postinst != nil {
		control = append(control, File{Name: "/postinst", Mode: 0o755, Data: p.Postinst})
	}
	if p.Prerm != nil {
		control = append(control, File{Name: "/prerm", Mode: 0o755, Data: p.Prerm})
	}
	controlTar, err := tarTree(control, p.ModTime)
	if err != nil {
		return err
	}

	dataGz, err := gz(dataTar)
	if err != nil {
		return err
	}
	controlGz, err := gz(controlTar)
	if err != nil {
		return err
	}
	// The outer members are named on ipkg-build's tar command line, so
	// they keep this order (not sorted).
	var outer bytes.Buffer
	tw := tar.NewWriter(&outer)
	for _, m := range []struct {
		name string
		data []byte
	}{
		{"./debian-binary", []byte("2.0\n")},
		{"./data.tar.gz", dataGz},
		{"./control.tar.gz", controlGz},
	} {
		if err := tw.WriteHeader(header(m.name, tar.TypeReg, 0o644, int64(len(m.data)), p.ModTime)); err != nil {
			return err
		}
		if _, err := tw.Write(m.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	outerGz, err := gz(outer.Bytes())
	if err != nil {
		return err
	}
	_, err = w.Write(outerGz)
	return err
}

func header(name string, typ byte, mode, size int64, mtime time.Time) *tar.Header {
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Mode:     mode,
		Size:     size,
		ModTime:  mtime,
		Format:   tar.FormatGNU,
		// Uid, Gid 0, no user or group names (tar --numeric-owner).
	}
}

// tarTree writes files and every directory above them, like
// `tar --sort=name -c .`: "./" first, then depth-first in name order,
// directories as "./etc/".
func tarTree(files []File, mtime time.Time) ([]byte, error) {
	type node struct {
		children map[string]*node
		file     *File
	}
	root := &node{children: map[string]*node{}}
	for i := range files {
		f := &files[i]
		if !strings.HasPrefix(f.Name, "/") || path.Clean(f.Name) != f.Name || f.Name == "/" {
			return nil, fmt.Errorf("ipk: file name %q must be a clean absolute path", f.Name)
		}
		if f.Mode&^0o7777 != 0 {
			return nil, fmt.Errorf("ipk: %s: mode %o has more than permission bits", f.Name, f.Mode)
		}
		n := root
		parts := strings.Split(f.Name[1:], "/")
		for j, part := range parts {
			c := n.children[part]
			if c == nil {
				c = &node{children: map[string]*node{}}
				n.children[part] = c
			}
			if j == len(parts)-1 {
				if c.file != nil || len(c.children) > 0 {
					return nil, fmt.Errorf("ipk: %s given twice", f.Name)
				}
				c.file = f
			} else if c.file != nil {
				return nil, fmt.Errorf("ipk: %s is a file and a directory", path.Join(parts[:j+1]...))
			}
			n = c
		}
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var walk func(prefix string, n *node) error
	walk = func(prefix string, n *node) error {
		if err := tw.WriteHeader(header(prefix, tar.TypeDir, 0o755, 0, mtime)); err != nil {
			return err
		}
		names := make([]string, 0, len(n.children))
		for k := range n.children {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			c := n.children[k]
			if c.file == nil {
				if err := walk(prefix+k+"/", c); err != nil {
					return err
				}
				continue
			}
			if err := tw.WriteHeader(header(prefix+k, tar.TypeReg, c.file.Mode, int64(len(c.file.Data)), mtime)); err != nil {
				return err
			}
			if _, err := tw.Write(c.file.Data); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("./", root); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gz compresses like `gzip -n -9`: no name, no time in the header.
func gz(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
