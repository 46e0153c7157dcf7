package apk

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Contents is an .apk taken apart by Read.
type Contents struct {
	Name, Version, Arch, Description, Origin, Maintainer, URL, License string
	InstalledSize                                                      uint64
	UniqueID                                                           []byte
	Depends                                                            []string
	Dirs                                                               []Dir
	Scripts                                                            map[string]string // by apk's names: post-install ...
}

// Dir is one directory entry of a package.
type Dir struct {
	Name        string // relative: "etc/config"
	Mode        uint64
	User, Group string
	Files       []FileEntry
}

// FileEntry is one file of a package, with its data from the DATA block.
type FileEntry struct {
	Name        string
	Mode        uint64
	User, Group string
	Size, MTime uint64
	SHA256      []byte
	Data        []byte
}

// File returns the entry of the file at the absolute path name.
func (c *Contents) File(name string) (FileEntry, bool) {
	for _, d := range c.Dirs {
		for _, f := range d.Files {
			if "/"+d.Name+"/"+f.Name == name {
				return f, true
			}
		}
	}
	return FileEntry{}, false
}

var scriptNames = []string{1: "trigger", 2: "pre-install", 3: "post-install", 4: "pre-deinstall", 5: "post-deinstall", 6: "pre-upgrade", 7: "post-upgrade"}

// reader decodes values of one ADB block.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("apk: "+format, a...)
	}
}

func (r *reader) at(off, n uint32) []byte {
	if uint64(off)+uint64(n) > uint64(len(r.b)) {
		r.fail("value at %d+%d beyond the ADB block (%d bytes)", off, n, len(r.b))
		return make([]byte, n)
	}
	return r.b[off : off+n]
}

func (r *reader) blob(v val) []byte {
	off := uint32(v & valueMask)
	switch v & typeMask {
	case typeSpecial:
		if v != null {
			r.fail("special value %#x where a blob belongs", uint32(v))
		}
		return nil
	case typeBlob8:
		n := r.at(off, 1)[0]
		return r.at(off+1, uint32(n))
	case typeBlob16:
		if off%2 != 0 {
			r.fail("blob16 at odd offset %d", off)
		}
		n := binary.LittleEndian.Uint16(r.at(off, 2))
		return r.at(off+2, uint32(n))
	case typeBlob32:
		if off%4 != 0 {
			r.fail("blob32 at unaligned offset %d", off)
		}
		n := binary.LittleEndian.Uint32(r.at(off, 4))
		return r.at(off+4, n)
	}
	r.fail("value %#x is not a blob", uint32(v))
	return nil
}

func (r *reader) str(v val) string { return string(r.blob(v)) }

func (r *reader) int(v val) uint64 {
	off := uint32(v & valueMask)
	switch v & typeMask {
	case typeSpecial:
		return 0
	case typeInt:
		return uint64(v & valueMask)
	case typeInt32:
		return uint64(binary.LittleEndian.Uint32(r.at(off, 4)))
	case typeInt64:
		return binary.LittleEndian.Uint64(r.at(off, 8))
	}
	r.fail("value %#x is not an integer", uint32(v))
	return 0
}

// slots returns the fields (objects) or items (arrays) of v; slot i+1 is
// element i, missing ones are null.
func (r *reader) slots(v val, typ val, min int) []val {
	out := make([]val, min)
	if v == null {
		return out
	}
	if v&typeMask != typ {
		r.fail("value %#x: want type %#x", uint32(v), uint32(typ))
		return out
	}
	off := uint32(v & valueMask)
	if off%4 != 0 {
		r.fail("object at unaligned offset %d", off)
	}
	n := binary.LittleEndian.Uint32(r.at(off, 4))
	if n == 0 || n > 1<<20 {
		r.fail("object at %d has %d slots", off, n)
		return out
	}
	raw := r.at(off, 4*n)
	for i := uint32(1); i < n; i++ {
		item := val(binary.LittleEndian.Uint32(raw[4*i:]))
		if int(i-1) < len(out) {
			out[i-1] = item
		} else {
			out = append(out, item)
		}
	}
	return out
}

// list returns the items of an array, typed array or, as apk mkpkg
// writes its lists, object.
func (r *reader) list(v val) []val {
	if v&typeMask == typeObject {
		return r.slots(v, typeObject, 0)
	}
	return r.slots(v, typeArray, 0)
}

func (r *reader) acl(v val) (mode uint64, user, group string) {
	f := r.slots(v, typeObject, 4)
	return r.int(f[0]), r.str(f[1]), r.str(f[2])
}

// Read takes an .apk apart and checks it as apk-tools would: the
// compression header, the file header and schema, block framing, that
// every DATA block names the next non-empty file in order, and each
// file's size and SHA-256.
func Read(rd io.Reader) (*Contents, error) {
	all, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(all, []byte("ADBd")):
		if all, err = io.ReadAll(flate.NewReader(bytes.NewReader(all[4:]))); err != nil {
			return nil, fmt.Errorf("apk: deflate stream: %w", err)
		}
	case bytes.HasPrefix(all, []byte(fileMagic)):
	default:
		return nil, errors.New("apk: neither ADBd (deflate) nor an uncompressed ADB file")
	}
	if len(all) < 8 || string(all[:4]) != fileMagic || binary.LittleEndian.Uint32(all[4:]) != schemaPackage {
		return nil, errors.New("apk: no ADB.pckg file header")
	}
	rest := all[8:]
	var blocks []struct {
		typ  uint32
		data []byte
	}
	for len(rest) > 0 {
		if len(rest) < 4 {
			return nil, errors.New("apk: truncated block header")
		}
		w := binary.LittleEndian.Uint32(rest)
		typ, n := w>>30, int(w&0x3fffffff)
		if typ == 3 || n < 4 || n > len(rest) {
			return nil, fmt.Errorf("apk: bad block header %#x", w)
		}
		blocks = append(blocks, struct {
			typ  uint32
			data []byte
		}{typ, rest[4:n]})
		padded := (n + blockAlign - 1) / blockAlign * blockAlign
		if padded > len(rest) {
			padded = len(rest)
		}
		if !bytes.Equal(rest[n:padded], make([]byte, padded-n)) {
			return nil, errors.New("apk: block padding is not zero")
		}
		rest = rest[padded:]
	}
	if len(blocks) == 0 || blocks[0].typ != blockADB {
		return nil, errors.New("apk: the first block is not the ADB block")
	}
	r := &reader{b: blocks[0].data}
	if len(r.b) < 8 || r.b[0] != 0 {
		return nil, errors.New("apk: bad ADB header (compat version must be 0)")
	}
	root := r.slots(val(binary.LittleEndian.Uint32(r.b[4:])), typeObject, 5)
	info := r.slots(root[0], typeObject, piMax-1)
	c := &Contents{
		Name: r.str(info[piName-1]), Version: r.str(info[piVersion-1]), UniqueID: r.blob(info[piHashes-1]),
		Description: r.str(info[piDescription-1]), Arch: r.str(info[piArch-1]), License: r.str(info[piLicense-1]),
		Origin: r.str(info[piOrigin-1]), Maintainer: r.str(info[piMaintainer-1]), URL: r.str(info[piURL-1]),
		InstalledSize: r.int(info[piInstalledSize-1]),
		Scripts:       map[string]string{},
	}
	for _, d := range r.list(info[piDepends-1]) {
		dep := r.slots(d, typeObject, 3)
		c.Depends = append(c.Depends, r.str(dep[0]))
	}
	for _, pv := range r.list(root[1]) {
		p := r.slots(pv, typeObject, 3)
		d := Dir{Name: r.str(p[0])}
		d.Mode, d.User, d.Group = r.acl(p[1])
		for _, fv := range r.list(p[2]) {
			f := r.slots(fv, typeObject, 6)
			e := FileEntry{Name: r.str(f[0]), Size: r.int(f[2]), MTime: r.int(f[3]), SHA256: r.blob(f[4])}
			e.Mode, e.User, e.Group = r.acl(f[1])
			if f[5] != null {
				r.fail("%s/%s: links and special files are not expected", d.Name, e.Name)
			}
			d.Files = append(d.Files, e)
		}
		c.Dirs = append(c.Dirs, d)
	}
	for i, s := range r.slots(root[2], typeObject, scriptMax-1) {
		if s != null {
			c.Scripts[scriptNames[i+1]] = r.str(s)
		}
	}
	if r.err != nil {
		return nil, r.err
	}

	// The unique id is the ADB block's SHA-256 with the id zeroed.
	zeroed := append([]byte(nil), r.b...)
	if off := int(info[piHashes-1] & valueMask); info[piHashes-1]&typeMask == typeBlob8 && off+1+len(c.UniqueID) <= len(zeroed) {
		copy(zeroed[off+1:], make([]byte, len(c.UniqueID)))
	}
	if sum := sha256.Sum256(zeroed); len(c.UniqueID) != uidLen || !bytes.Equal(c.UniqueID, sum[:uidLen]) {
		return nil, fmt.Errorf("apk: unique id %x is not the ADB block's hash %x", c.UniqueID, sum[:uidLen])
	}

	// DATA blocks: one per non-empty file, in path and file order.
	data := blocks[1:]
	for i := range c.Dirs {
		for j := range c.Dirs[i].Files {
			f := &c.Dirs[i].Files[j]
			if f.Size > 0 {
				if len(data) == 0 || data[0].typ != blockData || len(data[0].data) < 8 {
					return nil, fmt.Errorf("apk: no DATA block for %s/%s", c.Dirs[i].Name, f.Name)
				}
				b := data[0].data
				data = data[1:]
				if pi, fi := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]); pi != uint32(i+1) || fi != uint32(j+1) {
					return nil, fmt.Errorf("apk: DATA block for path %d file %d where %s/%s (%d, %d) comes", pi, fi, c.Dirs[i].Name, f.Name, i+1, j+1)
				}
				f.Data = b[8:]
			}
			if uint64(len(f.Data)) != f.Size {
				return nil, fmt.Errorf("apk: %s/%s: %d bytes of data, size says %d", c.Dirs[i].Name, f.Name, len(f.Data), f.Size)
			}
			if sum := sha256.Sum256(f.Data); !bytes.Equal(sum[:], f.SHA256) {
				return nil, fmt.Errorf("apk: %s/%s: SHA-256 mismatch", c.Dirs[i].Name, f.Name)
			}
		}
	}
	if len(data) > 0 {
		return nil, fmt.Errorf("apk: %d DATA blocks left over", len(data))
	}
	return c, nil
}
