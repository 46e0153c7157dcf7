package ubus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// The blob format (libubox blob.h): every attribute starts with a 32-bit
// big-endian word holding an "extended" flag (bit 31), a 7-bit id (bits
// 24-30) and the attribute's length including that word (bits 0-23). The
// payload follows, and the next attribute starts at the next multiple of 4.
const (
	blobExtended = 1 << 31
	blobIDShift  = 24
	blobIDMask   = 0x7f
	blobLenMask  = 0x00ffffff
	blobHdrLen   = 4
	blobAlign    = 4
)

// blobmsg value types (libubox blobmsg.h, enum blobmsg_type). A blobmsg
// attribute is an extended blob attribute whose id is the type and whose
// payload starts with a name: a 16-bit big-endian length, the name, a NUL,
// padding to 4 bytes.
const (
	typeArray  = 1
	typeTable  = 2
	typeString = 3
	typeInt64  = 4
	typeInt32  = 5
	typeInt16  = 6
	typeInt8   = 7 // also bool
	typeDouble = 8
)

// maxDepth bounds how deeply nested tables and arrays in a reply are
// decoded: rpcd's replies nest three levels, and the bound keeps a hostile
// peer from making the decoder recurse once per 8 bytes of a message.
const maxDepth = 32

// Table is a blobmsg table with its fields in order (the order the
// peer's policy parser sees them in does not matter to rpcd, but tests
// compare bytes). Field values may be string, bool, int, int32, int64,
// float64, Table, []any or map[string]any (written in key order).
type Table []Field

// Field is one named value of a Table.
type Field struct {
	Name  string
	Value any
}

func pad(n int) int { return (n + blobAlign - 1) &^ (blobAlign - 1) }

// appendAttr appends one blob attribute with payload to b.
func appendAttr(b []byte, id int, extended bool, payload []byte) []byte {
	hdr := uint32(id&blobIDMask)<<blobIDShift | uint32(blobHdrLen+len(payload))
	if extended {
		hdr |= blobExtended
	}
	b = binary.BigEndian.AppendUint32(b, hdr)
	b = append(b, payload...)
	for len(b)%blobAlign != 0 {
		b = append(b, 0)
	}
	return b
}

func appendString(b []byte, id int, s string) []byte {
	return appendAttr(b, id, false, append([]byte(s), 0))
}

func appendUint32(b []byte, id int, v uint32) []byte {
	return appendAttr(b, id, false, binary.BigEndian.AppendUint32(nil, v))
}

// attr is one parsed blob attribute; data aliases the message buffer.
type attr struct {
	id       int
	extended bool
	data     []byte
}

// parseAttrs splits b into its attributes, refusing any whose length runs
// past the end of b.
func parseAttrs(b []byte) ([]attr, error) {
	var out []attr
	for len(b) > 0 {
		if len(b) < blobHdrLen {
			return nil, errors.New("truncated attribute header")
		}
		hdr := binary.BigEndian.Uint32(b)
		n := int(hdr & blobLenMask)
		if n < blobHdrLen || n > len(b) {
			return nil, fmt.Errorf("attribute length %d outside 4..%d", n, len(b))
		}
		out = append(out, attr{id: int(hdr>>blobIDShift) & blobIDMask, extended: hdr&blobExtended != 0, data: b[blobHdrLen:n]})
		b = b[min(pad(n), len(b)):]
	}
	return out, nil
}

// encodeTable returns t as the payload of a blobmsg table: its fields'
// attributes, one after another.
func encodeTable(t Table) ([]byte, error) {
	var b []byte
	for _, f := range t {
		var err error
		if b, err = appendValue(b, f.Name, f.Value); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	return b, nil
}

// appendValue appends one named blobmsg attribute.
func appendValue(b []byte, name string, v any) ([]byte, error) {
	if len(name) > math.MaxUint16-1 {
		return nil, errors.New("name too long")
	}
	var typ int
	var data []byte
	switch v := v.(type) {
	case string:
		typ, data = typeString, append([]byte(v), 0)
	case bool:
		typ, data = typeInt8, []byte{0}
		if v {
			data[0] = 1
		}
	case int32:
		typ, data = typeInt32, binary.BigEndian.AppendUint32(nil, uint32(v))
	case int:
		// As libubox's JSON conversion does: int32 when it fits.
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			typ, data = typeInt32, binary.BigEndian.AppendUint32(nil, uint32(int32(v)))
		} else {
			typ, data = typeInt64, binary.BigEndian.AppendUint64(nil, uint64(v))
		}
	case int64:
		typ, data = typeInt64, binary.BigEndian.AppendUint64(nil, uint64(v))
	case float64:
		typ, data = typeDouble, binary.BigEndian.AppendUint64(nil, math.Float64bits(v))
	case Table:
		var err error
		typ = typeTable
		if data, err = encodeTable(v); err != nil {
			return nil, err
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t := make(Table, 0, len(v))
		for _, k := range keys {
			t = append(t, Field{k, v[k]})
		}
		return appendValue(b, name, t)
	case []any:
		typ = typeArray
		for i, e := range v {
			var err error
			if data, err = appendValue(data, "", e); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
	default:
		return nil, fmt.Errorf("cannot encode %T", v)
	}
	// Name header: length, name, NUL, padded to 4 (blobmsg_hdrlen).
	hdr := binary.BigEndian.AppendUint16(nil, uint16(len(name)))
	hdr = append(hdr, name...)
	hdr = append(hdr, 0)
	for len(hdr)%blobAlign != 0 {
		hdr = append(hdr, 0)
	}
	return appendAttr(b, typ, true, append(hdr, data...)), nil
}

// decodeTable decodes the payload of a blobmsg table into a map, the way
// the ubus CLI turns replies into JSON: int8 is a bool, every other
// integer an int64.
func decodeTable(b []byte, depth int) (map[string]any, error) {
	attrs, err := parseAttrs(b)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(attrs))
	for _, a := range attrs {
		name, v, err := decodeValue(a, depth)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

func decodeArray(b []byte, depth int) ([]any, error) {
	attrs, err := parseAttrs(b)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(attrs))
	for _, a := range attrs {
		_, v, err := decodeValue(a, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// decodeValue decodes one blobmsg attribute into its name and value.
func decodeValue(a attr, depth int) (string, any, error) {
	if depth >= maxDepth {
		return "", nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	if !a.extended || len(a.data) < 3 {
		return "", nil, errors.New("attribute is not a blobmsg field")
	}
	nameLen := int(binary.BigEndian.Uint16(a.data))
	hdrLen := pad(2 + nameLen + 1)
	if hdrLen > len(a.data) || a.data[2+nameLen] != 0 {
		return "", nil, errors.New("malformed blobmsg name")
	}
	name, d := string(a.data[2:2+nameLen]), a.data[hdrLen:]
	fixed := func(n int) error {
		if len(d) != n {
			return fmt.Errorf("%q: %d bytes for a %d-byte value", name, len(d), n)
		}
		return nil
	}
	var err error
	var v any
	switch a.id {
	case typeTable:
		v, err = decodeTable(d, depth+1)
	case typeArray:
		v, err = decodeArray(d, depth+1)
	case typeString:
		if len(d) == 0 || d[len(d)-1] != 0 {
			return "", nil, fmt.Errorf("%q: string without its NUL", name)
		}
		v = string(d[:len(d)-1])
	case typeInt64:
		if err = fixed(8); err == nil {
			v = int64(binary.BigEndian.Uint64(d))
		}
	case typeInt32:
		if err = fixed(4); err == nil {
			v = int64(int32(binary.BigEndian.Uint32(d)))
		}
	case typeInt16:
		if err = fixed(2); err == nil {
			v = int64(int16(binary.BigEndian.Uint16(d)))
		}
	case typeInt8:
		if err = fixed(1); err == nil {
			v = d[0] != 0
		}
	case typeDouble:
		if err = fixed(8); err == nil {
			v = math.Float64frombits(binary.BigEndian.Uint64(d))
		}
	default:
		// Unknown types are skipped as the CLI does, not fatal.
		v = nil
	}
	if err != nil {
		return "", nil, err
	}
	return name, v, nil
}
