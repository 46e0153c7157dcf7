// Package apk writes apk-tools v3 packages (the ADB format of OpenWrt
// 25.12's package manager) with nothing but Go, from the shared package
// description in internal/pkgspec, and reads them back for checks.
//
// A package is "ADBd" and a raw DEFLATE stream of: the file header
// "ADB." + schema "pckg", one ADB block holding the package object
// (info, paths with every directory and file, their modes, owners, sizes,
// times and SHA-256 hashes, and the scripts), then one DATA block per
// non-empty file, in the order of the paths. It is unsigned: install it
// with `apk add --allow-untrusted`. As OpenWrt's package-pack.mk does,
// the package also carries lib/apk/packages/<name>.list (its files),
// .conffiles and .conffiles_static (conffile and SHA-256), which
// OpenWrt's sysupgrade and tools read; apk itself protects /etc anyway.
//
// Before compression the bytes are those apk-tools' own `apk mkpkg
// --no-rootnode` writes for the same files, info and scripts (a test
// compares them), so apk reads them as it reads OpenWrt's packages.
package apk

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/wanlb/wanlb/internal/pkgspec"
)

// Field numbers of apk-tools' schemas (src/apk_adb.h).
const (
	piName, piVersion, piHashes, piDescription, piArch, piLicense, piOrigin, piMaintainer, piURL = 1, 2, 3, 4, 5, 6, 7, 8, 9
	piInstalledSize, piDepends                                                                   = 12, 15
	piMax                                                                                        = 22

	scriptPreInstall, scriptPostInstall, scriptPreDeinstall, scriptPostDeinstall = 2, 3, 4, 5
	scriptPreUpgrade, scriptPostUpgrade, scriptMax                               = 6, 7, 8

	uidLen = 20 // the package's unique id: SHA-256 of the ADB block, cut as apk mkpkg does
)

var (
	// apk-tools: [a-zA-Z0-9.+_-], starting with a letter or digit.
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_-]*$`)
	archPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// FileName is the name OpenWrt gives an apk package: <name>-<version>.apk
// (include/package-pack.mk), one directory per architecture.
func FileName(p pkgspec.Package) string { return p.Name + "-" + p.Version + ".apk" }

// MetaDir is where OpenWrt's apk packages keep their file list and
// conffiles on the router.
const MetaDir = "/lib/apk/packages"

// metaFiles are the lib/apk/packages/<name>.* files OpenWrt adds.
func metaFiles(p pkgspec.Package) []pkgspec.File {
	var list []string
	data := map[string][]byte{}
	for _, f := range p.Files {
		list = append(list, f.Name)
		data[f.Name] = f.Data
	}
	sort.Strings(list)
	out := []pkgspec.File{{Name: MetaDir + "/" + p.Name + ".list", Mode: 0o644, Data: []byte(strings.Join(list, "\n") + "\n")}}
	if len(p.Conffiles) > 0 {
		var cf, static strings.Builder
		for _, c := range p.Conffiles {
			fmt.Fprintln(&cf, c)
			sum := sha256.Sum256(data[c])
			fmt.Fprintf(&static, "%s %s\n", c, hex.EncodeToString(sum[:]))
		}
		out = append(out,
			pkgspec.File{Name: MetaDir + "/" + p.Name + ".conffiles", Mode: 0o644, Data: []byte(cf.String())},
			pkgspec.File{Name: MetaDir + "/" + p.Name + ".conffiles_static", Mode: 0o644, Data: []byte(static.String())})
	}
	return out
}

func check(p pkgspec.Package) error {
	var errs []string
	if !namePattern.MatchString(p.Name) {
		errs = append(errs, fmt.Sprintf("package name %q", p.Name))
	}
	if !pkgspec.ValidVersion(p.Version) {
		errs = append(errs, fmt.Sprintf("version %q (want X.Y.Z-rN)", p.Version))
	}
	if !archPattern.MatchString(p.Arch) {
		errs = append(errs, fmt.Sprintf("architecture %q", p.Arch))
	}
	for _, d := range p.Depends {
		if !namePattern.MatchString(d) {
			errs = append(errs, fmt.Sprintf("dependency %q", d))
		}
	}
	if strings.TrimSpace(p.Description) == "" {
		errs = append(errs, "empty description")
	}
	have := map[string]bool{}
	for _, f := range p.Files {
		switch {
		case !strings.HasPrefix(f.Name, "/") || path.Clean(f.Name) != f.Name || f.Name == "/":
			errs = append(errs, fmt.Sprintf("file name %q must be a clean absolute path", f.Name))
		case f.Mode&^0o7777 != 0:
			errs = append(errs, fmt.Sprintf("%s: mode %o has more than permission bits", f.Name, f.Mode))
		case have[f.Name]:
			errs = append(errs, fmt.Sprintf("%s given twice", f.Name))
		case strings.HasPrefix(f.Name, MetaDir+"/"+p.Name+"."):
			errs = append(errs, fmt.Sprintf("%s is written by the apk writer", f.Name))
		}
		have[f.Name] = true
	}
	for _, c := range p.Conffiles {
		if !have[c] {
			errs = append(errs, fmt.Sprintf("conffile %s is not in the package", c))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("apk: bad package: %s", strings.Join(errs, ", "))
	}
	return nil
}

// dir is one directory of the package with the files directly in it.
type dir struct {
	name  string // relative, no leading slash: "etc/config"
	files []pkgspec.File
}

// tree groups files by directory and adds every directory above them
// (as apk mkpkg does by default), sorted by name as apk-tools sorts its
// arrays (bytewise).
func tree(files []pkgspec.File) ([]dir, error) {
	dirs := map[string]*dir{}
	for _, f := range files {
		d := strings.TrimPrefix(path.Dir(f.Name), "/")
		for p := d; p != "" && p != "."; p = path.Dir(p) {
			if dirs[p] == nil {
				dirs[p] = &dir{name: p}
			}
		}
		if d == "" {
			return nil, fmt.Errorf("apk: %s: files in / are not supported", f.Name)
		}
		dirs[d].files = append(dirs[d].files, f)
	}
	for _, f := range files {
		if dirs[strings.TrimPrefix(f.Name, "/")] != nil {
			return nil, fmt.Errorf("apk: %s is a file and a directory", f.Name)
		}
	}
	out := make([]dir, 0, len(dirs))
	for _, d := range dirs {
		sort.Slice(d.files, func(i, j int) bool { return d.files[i].Name < d.files[j].Name })
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// Build writes the .apk of p to w.
func Build(w io.Writer, p pkgspec.Package) error {
	if err := check(p); err != nil {
		return err
	}
	files := append(append([]pkgspec.File(nil), p.Files...), metaFiles(p)...)
	dirs, err := tree(files)
	if err != nil {
		return err
	}

	// Values are written in the order `apk mkpkg` writes them, so the ADB
	// block comes out as apk-tools' own: the info fields given as text,
	// the dependencies, every directory's files and then the directory,
	// the installed size and unique id, then the objects holding them.
	a := newADB()
	info := make([]val, piMax-1)
	info[piName-1] = a.str(p.Name)
	info[piVersion-1] = a.str(p.Version)
	info[piDescription-1] = a.str(oneLine(p.Description))
	info[piArch-1] = a.str(p.Arch)
	info[piLicense-1] = a.str(p.License)
	info[piOrigin-1] = a.str(p.Name)
	info[piMaintainer-1] = a.str(p.Maintainer)
	info[piURL-1] = a.str(p.URL)
	// Dependency objects in the order given, the list sorted by name
	// without repeats.
	type dep struct {
		name string
		v    val
	}
	var deps []dep
	for _, d := range p.Depends {
		deps = append(deps, dep{d, a.object(a.str(d))})
	}
	sort.SliceStable(deps, func(i, j int) bool { return deps[i].name < deps[j].name })
	var dv []val
	for i, d := range deps {
		if i == 0 || d.v != deps[i-1].v {
			dv = append(dv, d.v)
		}
	}
	info[piDepends-1] = a.list(dv)

	mtime := uint64(p.ModTime.Unix())
	var installed uint64
	var paths []val
	for _, d := range dirs {
		var fv []val
		for _, f := range d.files {
			sum := sha256.Sum256(f.Data)
			installed += uint64(len(f.Data))
			name, hash, mt, size := a.str(path.Base(f.Name)), a.blob(sum[:]), a.int(mtime), a.int(uint64(len(f.Data)))
			acl := a.object(a.int(uint64(f.Mode)), a.str("root"), a.str("root"))
			fv = append(fv, a.object(name, acl, size, mt, hash))
		}
		name := a.str(d.name)
		acl := a.object(a.int(0o755), a.str("root"), a.str("root"))
		paths = append(paths, a.object(name, acl, a.list(fv)))
	}
	if installed == 0 {
		installed = 1 // 0 would mark a meta package, which apk may not download
	}
	info[piInstalledSize-1] = a.int(installed)
	// The unique id: zeros now, the ADB block's hash once it is complete.
	uid := a.blobAfresh(make([]byte, uidLen))
	info[piHashes-1] = uid
	pkginfo := a.object(info...)
	pathsArr := a.list(paths)

	scripts := make([]val, scriptMax-1)
	scripts[scriptPostInstall-1] = a.blob(p.Scripts.PostInstall)
	scripts[scriptPreDeinstall-1] = a.blob(p.Scripts.PreDeinstall)
	scripts[scriptPostUpgrade-1] = a.blob(p.Scripts.PostUpgrade)

	a.setRoot(a.object(pkginfo, pathsArr, a.object(scripts...)))
	if a.err != nil {
		return a.err
	}
	sum := sha256.Sum256(a.buf)
	copy(a.buf[int(uid&valueMask)+1:], sum[:uidLen])

	var raw bytes.Buffer
	raw.WriteString(fileMagic)
	raw.Write(binary.LittleEndian.AppendUint32(nil, schemaPackage))
	b, err := block(blockADB, a.buf)
	if err != nil {
		return err
	}
	raw.Write(b)
	for i, d := range dirs {
		for j, f := range d.files {
			if len(f.Data) == 0 {
				continue
			}
			// Which file this is: 1-based indexes into paths and files.
			hdr := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, uint32(i+1)), uint32(j+1))
			if b, err = block(blockData, hdr, f.Data); err != nil {
				return err
			}
			raw.Write(b)
		}
	}

	if _, err := io.WriteString(w, "ADBd"); err != nil {
		return err
	}
	zw, err := flate.NewWriter(w, flate.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return err
	}
	return zw.Close()
}

// oneLine joins a multi-line description into the single line apk shows.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
