package uciconf

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
)

// sameContent compares two files ignoring line numbers, treating empty
// lists as absent (they are not written).
func sameContent(a, b *File) bool {
	if len(a.Sections) != len(b.Sections) {
		return false
	}
	for i, sa := range a.Sections {
		sb := b.Sections[i]
		if sa.Type != sb.Type || sa.Name != sb.Name {
			return false
		}
		opts := slices.DeleteFunc(slices.Clone(sa.Options), func(o *Option) bool { return o.List && len(o.Values) == 0 })
		if len(opts) != len(sb.Options) {
			return false
		}
		for j, oa := range opts {
			ob := sb.Options[j]
			if oa.Name != ob.Name || oa.List != ob.List || !slices.Equal(oa.Values, ob.Values) {
				return false
			}
		}
	}
	return true
}

// FuzzParse checks that Parse never panics and that whatever it accepts is
// written in a form that reads back to the same content and is a fixed
// point of WriteTo. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/canonical.uci", "testdata/messy.uci"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		file, err := Parse(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error without a line number: %v", err)
			}
			return
		}
		var first bytes.Buffer
		if _, err := file.WriteTo(&first); err != nil {
			t.Fatalf("WriteTo of a parsed file: %v", err)
		}
		again, err := Parse(bytes.NewReader(first.Bytes()))
		if err != nil {
			t.Fatalf("reparse: %v\ntext:\n%s", err, first.String())
		}
		if !sameContent(file, again) {
			t.Fatalf("round trip changed the content:\n%s\nbecame\n%s", dump(file), dump(again))
		}
		var second bytes.Buffer
		if _, err := again.WriteTo(&second); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("second write differs:\n%q\n%q", first.String(), second.String())
		}
	})
}
