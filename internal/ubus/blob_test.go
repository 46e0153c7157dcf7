package ubus

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestEncodeLayout pins the bytes of one field against libubox's layout
// (blob.h, blobmsg.h) worked out by hand: the real rpcd parsing what we
// send (rpcd_test.go) checks the rest.
func TestEncodeLayout(t *testing.T) {
	got, err := encodeTable(Table{{"username", "root"}, {"timeout", 60}, {"ok", true}})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		// extended | type 3 (string) | length 21; name length 8, "username\0", pad to 12; "root\0"; pad to 24
		"83000015" + "0008" + hex.EncodeToString([]byte("username")) + "00" + "00" + hex.EncodeToString([]byte("root")) + "00" + "000000" +
		// extended | type 5 (int32) | length 4+12+4=20; name length 7, "timeout\0" (2+7+1=10, pad 12); 60
		"85000014" + "0007" + hex.EncodeToString([]byte("timeout")) + "00" + "0000" + "0000003c" +
		// extended | type 7 (int8, bool) | length 4+8+1=13; name length 2, "ok\0", pad 8; 1; pad to 16
		"8700000d" + "0002" + hex.EncodeToString([]byte("ok")) + "00" + "000000" + "01" + "000000"
	if hex.EncodeToString(got) != want {
		t.Errorf("encoding:\n got %x\nwant %s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Table
		want map[string]any
	}{
		{"empty", nil, map[string]any{}},
		{"scalars", Table{{"s", "hé\"llo"}, {"i32", int32(-5)}, {"int", math.MaxInt32}, {"i64", int64(math.MinInt64)}, {"b", false}, {"f", 1.5}},
			map[string]any{"s": "hé\"llo", "i32": int64(-5), "int": int64(math.MaxInt32), "i64": int64(math.MinInt64), "b": false, "f": 1.5}},
		{"nested", Table{{"t", Table{{"a", []any{"x", int32(1), Table{{"deep", true}}}}}}, {"m", map[string]any{"z": "1", "a": "2"}}},
			map[string]any{"t": map[string]any{"a": []any{"x", int64(1), map[string]any{"deep": true}}}, "m": map[string]any{"z": "1", "a": "2"}}},
		{"empty name and string", Table{{"", ""}}, map[string]any{"": ""}},
		{"name of every length mod 4", Table{{"a", "1"}, {"ab", "2"}, {"abc", "3"}, {"abcd", "4"}},
			map[string]any{"a": "1", "ab": "2", "abc": "3", "abcd": "4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodeTable(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(b)%4 != 0 {
				t.Errorf("%d bytes, not 4-aligned", len(b))
			}
			got, err := decodeTable(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
	if _, err := encodeTable(Table{{"x", struct{}{}}}); err == nil {
		t.Error("encoded a struct")
	}
}

// TestDecodeHostile feeds replies a broken or hostile peer could send: each
// must be an error, never a panic or a huge allocation.
func TestDecodeHostile(t *testing.T) {
	valid, _ := encodeTable(Table{{"key", "value"}})
	nest := func(depth int) []byte {
		var b []byte
		for i := 0; i < depth; i++ {
			b = field(typeTable, "n", b)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"truncated header", valid[:3]},
		{"length past the end", append(binary.BigEndian.AppendUint32(nil, blobExtended|typeString<<24|0xffffff), valid[4:]...)},
		{"length below the header", binary.BigEndian.AppendUint32(nil, blobExtended|typeString<<24|2)},
		{"not extended", appendAttr(nil, typeString, false, []byte("x\x00"))},
		{"name past the end", appendAttr(nil, typeString, true, []byte{0xff, 0xff, 'a', 0})},
		{"string without NUL", field(typeString, "a", []byte("xy"))},
		{"int32 of 3 bytes", field(typeInt32, "a", []byte{1, 2, 3})},
		{"bad field inside a table", field(typeTable, "t", field(typeInt64, "i", []byte{1}))},
		{"bad field inside an array", field(typeArray, "a", appendAttr(nil, typeString, false, []byte("x\x00")))},
		{"nested too deep", nest(maxDepth + 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, err := decodeTable(tc.in, 0); err == nil {
				t.Errorf("decoded %#v", v)
			}
		})
	}
	if _, err := decodeTable(nest(maxDepth-1), 0); err != nil {
		t.Errorf("nesting within the limit: %v", err)
	}
}

// field builds one blobmsg attribute from raw value bytes.
func field(typ int, name string, data []byte) []byte {
	hdr := binary.BigEndian.AppendUint16(nil, uint16(len(name)))
	hdr = append(append(hdr, name...), 0)
	for len(hdr)%4 != 0 {
		hdr = append(hdr, 0)
	}
	return appendAttr(nil, typ, true, append(hdr, data...))
}

// FuzzDecodeTable: no input panics the decoder, and whatever it accepts
// encodes again into something it accepts.
func FuzzDecodeTable(f *testing.F) {
	b, _ := encodeTable(Table{{"s", "x"}, {"t", Table{{"a", []any{int32(1), true}}}}})
	f.Add(b)
	f.Add([]byte(strings.Repeat("\x82\x00\x00\x08\x00\x00\x00\x00", 4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeTable(b, 0)
		if err != nil {
			return
		}
		re, err := encodeTable(Table{{"x", v}})
		if err != nil {
			return // fields of unknown types decode to nil, which does not encode
		}
		if _, err := decodeTable(re, 0); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
	})
}
