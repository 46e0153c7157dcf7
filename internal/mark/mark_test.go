package mark

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mask
		err  string
	}{
		{"0x3f000000", 0x3f000000, ""},
		{"0x0f000000", 0x0f000000, ""},
		{"0x3", 0x3, ""},
		{"0xff000000", 0xff000000, ""},
		{"0x1ff000000", 0, "32-bit number"},
		{"junk", 0, "32-bit number"},
		{"0", 0, "not be zero"},
		{"0x1", 0, "between 2 and 8 bits"},
		{"0x3f00", 0, "overlaps"},
		{"0x1ff00000", 0, "between 2 and 8 bits"},
		{"0x05000000", 0, "contiguous"},
		{"0x00030000", 0, "overlaps"},
	} {
		got, err := Parse(tc.in)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Parse(%q) error %v, want %q", tc.in, err, tc.err)
		}
	}
}

func TestIndexes(t *testing.T) {
	for _, tc := range []struct {
		m                       Mask
		maxIdx, bh, unr, value3 uint32
	}{
		{Default, 61, 62, 63, 0x03000000},
		{0x3, 1, 2, 3, 0x3},
		{0xff000000, 253, 254, 255, 0x03000000},
		{0x000000f0, 13, 14, 15, 0x30},
	} {
		if tc.m.MaxIndex() != tc.maxIdx || tc.m.Blackhole() != tc.bh || tc.m.Unreachable() != tc.unr || tc.m.Value(3) != tc.value3 {
			t.Errorf("%v: max %d bh %d unr %d value(3) %#x", tc.m, tc.m.MaxIndex(), tc.m.Blackhole(), tc.m.Unreachable(), tc.m.Value(3))
		}
		if tc.m.MaxWANs() != int(tc.maxIdx) || !tc.m.IsWAN(1) || !tc.m.IsWAN(tc.maxIdx) || tc.m.IsWAN(0) || tc.m.IsWAN(tc.bh) {
			t.Errorf("%v: IsWAN/MaxWANs wrong", tc.m)
		}
		for i := uint32(0); i <= tc.unr; i++ {
			if got := tc.m.Index(tc.m.Value(i) | ^uint32(tc.m)); got != i {
				t.Errorf("%v: Index(Value(%d)) = %d", tc.m, i, got)
			}
		}
	}
	if Mask(0x1).MaxIndex() != 0 {
		t.Error("a 1-bit mask has room for no WAN")
	}
}
