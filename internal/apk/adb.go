package apk

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// The ADB wire format (apk-tools' doc/apk-v3.5 and src/adb.h): a value
// is a little-endian uint32 whose top 4 bits are its type and whose low
// 28 bits hold either the value itself or the offset of the value in the
// ADB block.
type val uint32

const (
	typeSpecial val = 0x00000000
	typeInt     val = 0x10000000 // the value itself, < 2^28
	typeInt32   val = 0x20000000 // offset of a uint32
	typeInt64   val = 0x30000000 // offset of a uint64
	typeBlob8   val = 0x80000000 // offset of a uint8 length, then the bytes
	typeBlob16  val = 0x90000000
	typeBlob32  val = 0xa0000000
	typeArray   val = 0xd0000000 // offset of [n, item1 ... item(n-1)]
	typeObject  val = 0xe0000000 // offset of [n, field1 ... field(n-1)]
	typeMask    val = 0xf0000000
	valueMask   val = 0x0fffffff

	null val = typeSpecial // a missing field or an empty blob/array
)

// Block types (two top bits of a block's first word).
const (
	blockADB  = 0
	blockData = 2
)

const (
	fileMagic     = "ADB."
	schemaPackage = 0x676b6370 // "pckg"
	blockAlign    = 8
)

// adb builds one ADB block: an 8-byte header (compat version 0, version
// 0, reserved, root value), then the values, each aligned as apk-tools
// aligns it: objects and arrays to 4 bytes, a blob to the size of its
// length field. Equal values are written once and shared, as apk-tools
// does (adb_w_data), so the block is the one `apk mkpkg` writes.
type adb struct {
	buf    []byte
	seen   map[string]uint32 // value bytes -> offset of their last copy
	noDups bool              // write the next value afresh (the unique id)
	err    error
}

func newADB() *adb { return &adb{buf: make([]byte, 8), seen: map[string]uint32{}} }

func (a *adb) write(align int, parts ...[]byte) uint32 {
	key := string(bytes.Join(parts, nil))
	if off, ok := a.seen[key]; ok && !a.noDups && off%uint32(align) == 0 {
		return off
	}
	for len(a.buf)%align != 0 {
		a.buf = append(a.buf, 0)
	}
	off := len(a.buf)
	a.buf = append(a.buf, key...)
	if off > int(valueMask) && a.err == nil {
		a.err = fmt.Errorf("apk: ADB block over %d bytes", valueMask)
	}
	if !a.noDups {
		a.seen[key] = uint32(off)
	}
	return uint32(off)
}

// blobAfresh writes b without sharing it with an equal value: its bytes
// are changed later.
func (a *adb) blobAfresh(b []byte) val {
	a.noDups = true
	defer func() { a.noDups = false }()
	return a.blob(b)
}

// blob writes b; an empty blob is the null value, as in apk-tools.
func (a *adb) blob(b []byte) val {
	switch n := len(b); {
	case n == 0:
		return null
	case n <= 0xff:
		return typeBlob8 | val(a.write(1, []byte{byte(n)}, b))
	case n <= 0xffff:
		return typeBlob16 | val(a.write(2, binary.LittleEndian.AppendUint16(nil, uint16(n)), b))
	default:
		return typeBlob32 | val(a.write(4, binary.LittleEndian.AppendUint32(nil, uint32(n)), b))
	}
}

func (a *adb) str(s string) val { return a.blob([]byte(s)) }

func (a *adb) int(n uint64) val {
	switch {
	case n < 0x10000000:
		return typeInt | val(n)
	case n < 1<<32:
		return typeInt32 | val(a.write(4, binary.LittleEndian.AppendUint32(nil, uint32(n))))
	default:
		return typeInt64 | val(a.write(4, binary.LittleEndian.AppendUint64(nil, n)))
	}
}

// slots writes an object or array: fields[i] is slot i+1; trailing null
// slots are dropped and an all-null one is the null value.
func (a *adb) slots(typ val, fields []val) val {
	n := len(fields)
	for n > 0 && fields[n-1] == null {
		n--
	}
	if n == 0 {
		return null
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(n+1))
	for _, f := range fields[:n] {
		b = binary.LittleEndian.AppendUint32(b, uint32(f))
	}
	return typ | val(a.write(4, b))
}

func (a *adb) object(fields ...val) val { return a.slots(typeObject, fields) }

// list writes an array (dependencies, paths, files). apk mkpkg stores its
// lists with adb_wo_obj, which types them as objects; readers go by the
// schema and take either, so this writer does the same.
func (a *adb) list(items []val) val { return a.slots(typeObject, items) }

// setRoot stores the root value in the header.
func (a *adb) setRoot(v val) { binary.LittleEndian.PutUint32(a.buf[4:], uint32(v)) }

// block frames payload as one block: a uint32 of type<<30 | (4 + length),
// the payload, zero padding to 8 bytes.
func block(typ uint32, payload ...[]byte) ([]byte, error) {
	n := 4
	for _, p := range payload {
		n += len(p)
	}
	if n > 0x3fffffff {
		return nil, fmt.Errorf("apk: block of %d bytes needs the extended header, which this writer does not make", n)
	}
	out := make([]byte, 0, n+blockAlign)
	out = binary.LittleEndian.AppendUint32(out, typ<<30|uint32(n))
	for _, p := range payload {
		out = append(out, p...)
	}
	for len(out)%blockAlign != 0 {
		out = append(out, 0)
	}
	return out, nil
}
