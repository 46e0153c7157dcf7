package uciconf

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	uci "github.com/digineo/go-uci/v2"
)

// goUCI loads text with github.com/digineo/go-uci as config "c".
func goUCI(t *testing.T, text string) uci.Tree {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return uci.NewTree(dir)
}

// Within the subset go-uci handles correctly (single-line values, no
// backslashes or escaped quotes, no empty values, no repeated options, no
// "package" line) both parsers must agree on every section and value.
func TestDifferentialGoUCI(t *testing.T) {
	inputs := []string{
		"config wan 'wan'\n\toption enabled '1'\n\tlist track '198.18.100.1'\n\tlist track '198.18.100.2'\n\nconfig rule\n\toption name 'r1'\n",
		"config globals 'globals'\n\toption mark_mask '0x3f00'\n\nconfig rule\n\toption proto 'tcp'\n\nconfig rule\n\toption proto 'udp'\n\nconfig wan 'b'\n\tlist use \"x y\"\n",
		"config interface lan\n\toption ifname eth0\n\toption proto static # comment\n\toption ipaddr \"192.168.1.1\"\n# a comment\nconfig interface wan\n\toption proto dhcp\n",
		"config rule\n\toption label 'a \"quoted\" word'\n\toption hash \"x # y\"\n\nconfig rule\n\tlist dest 'a'\n\tlist dest \"b\"\n\tlist dest c\n",
		"config wan-ext 'lte'\n\toption device '/dev/cdc-wdm0'\n\toption weight '10'\n\nconfig wan-ext\n\toption device 'eth9'\n",
		"\tconfig\trule\t'named'\n  option  name   'spaces   inside'\n",
	}
	for _, in := range inputs {
		f := mustParse(t, in)
		tree := goUCI(t, in)
		types := map[string]bool{}
		for _, s := range f.Sections {
			types[s.Type] = true
			for _, o := range s.Options {
				got, ok := tree.Get("c", f.ID(s), o.Name)
				if !ok || !slices.Equal(got, o.Values) {
					t.Errorf("%s.%s: go-uci %q (found %v), uciconf %q\ninput:\n%s", f.ID(s), o.Name, got, ok, o.Values, in)
				}
			}
		}
		for typ := range types {
			names, err := tree.GetSections("c", typ)
			if err != nil {
				t.Fatalf("go-uci GetSections(%q): %v\ninput:\n%s", typ, err, in)
			}
			var ours []string
			for _, s := range f.OfType(typ) {
				ours = append(ours, f.ID(s))
			}
			if !slices.Equal(names, ours) {
				t.Errorf("sections of type %s: go-uci %q, uciconf %q", typ, names, ours)
			}
		}
	}
}

// The inputs that made us write our own parser: libuci's own output that
// go-uci cannot read.
func TestGoUCIRejectsWhatLibuciWrites(t *testing.T) {
	for _, tt := range []struct{ in, want, goUCIError string }{
		{"config rule\n\toption name 'Bob'\\''s line'\n", "Bob's line", "expected keyword"},
		{"config rule\n\tlist name ''\n", "", "expected option value"},
	} {
		tree := goUCI(t, tt.in)
		err := tree.LoadConfig("c", false)
		if err == nil || !strings.Contains(err.Error(), tt.goUCIError) {
			t.Errorf("go-uci on %q: error %v, want it to fail with %q (if go-uci was fixed, reconsider this package)", tt.in, err, tt.goUCIError)
		}
		f := mustParse(t, tt.in)
		if o, ok := f.Sections[0].Get("name"); !ok || o.Values[len(o.Values)-1] != tt.want {
			t.Errorf("uciconf on %q: got %v, want %q", tt.in, o, tt.want)
		}
	}
}
