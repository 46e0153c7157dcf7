package uciconf

import (
	"fmt"
	"strings"
	"testing"
)

// dump renders a File compactly for table expectations:
// `[type name] opt="v" lst=["a" "b"]`.
func dump(f *File) string {
	var parts []string
	for _, s := range f.Sections {
		parts = append(parts, "["+strings.TrimSpace(s.Type+" "+s.Name)+"]")
		for _, o := range s.Options {
			if o.List {
				parts = append(parts, fmt.Sprintf("%s=%q", o.Name, o.Values))
			} else {
				parts = append(parts, fmt.Sprintf("%s=%q", o.Name, o.Values[0]))
			}
		}
	}
	return strings.Join(parts, " ")
}

// The expectations below were checked against libuci's own parser.
func TestParse(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"canonical", "\nconfig wan 'wan'\n\toption enabled '1'\n\tlist track '198.18.100.1'\n\nconfig rule\n\toption name 'Bob'\\''s line'\n\n",
			`[wan wan] enabled="1" track=["198.18.100.1"] [rule] name="Bob's line"`},
		{"empty file", "", ``},
		{"only comments and blanks", "# a\n\n   # b\n\t\n", ``},
		{"unquoted", "config wan wan\noption enabled 1\n", `[wan wan] enabled="1"`},
		{"leading tabs and spaces", "  \t config wan wan\n\t \toption\t\tenabled   1  \n", `[wan wan] enabled="1"`},
		{"crlf", "config t\r\n\toption a b\r\n\toption c 'd'\r\n", `[t] a="b" c="d"`},
		{"no final newline", "config t\n\toption a b", `[t] a="b"`},
		{"escaped quote", "config rule\n\toption label 'Bob'\\''s line'\n", `[rule] label="Bob's line"`},
		{"single quotes keep backslashes", `config t` + "\n" + `option a 'x\ny\'`, `[t] a="x\\ny\\"`},
		{"double quotes unescape", `config t` + "\n" + `option a "a\"b\\c\d"`, `[t] a="a\"b\\cd"`},
		{"concatenation", "config t\noption a a'b c'd\n", `[t] a="ab cd"`},
		{"mixed quoting", "config t\noption a \"x\"'y'z\\ w\n", `[t] a="xyz w"`},
		{"unquoted backslash escapes", `config t` + "\n" + `option a a\#b\;c\'d`, `[t] a="a#b;c'd"`},
		{"quoted name and type", "config 'wan' \"w\"an\n", `[wan wan]`},
		{"hash inside quotes", "config t\noption a 'b#c' # comment\n", `[t] a="b#c"`},
		{"comment after statement", "config t # c\noption a b # c\noption d e#f\n", `[t] a="b" d="e"`},
		{"empty option is ignored", "config t\noption a ''\noption b \"\"\noption c\n", `[t]`},
		{"empty option does not delete", "config t\noption a x\noption a ''\n", `[t] a="x"`},
		{"empty list items are kept", "config t\nlist a ''\nlist a\nlist a x\n", `[t] a=["" "" "x"]`},
		{"multi-line single quotes", "config t\noption a 'x\ny\n'\n", `[t] a="x\ny\n"`},
		{"multi-line double quotes", "config t\noption a \"x\n\ty\"\n", `[t] a="x\n\ty"`},
		{"multi-line crlf", "config t\r\noption a 'x\r\ny'\r\n", `[t] a="x\r\ny"`},
		{"backslash joins lines", "config t\noption a x\\\ny\noption b \"p\\\nq\"\n", `[t] a="xy" b="pq"`},
		{"list", "config t\nlist a 1\nlist a 2\n", `[t] a=["1" "2"]`},
		{"option then list makes a list in its place", "config t\noption a 1\noption b 2\nlist a 3\n", `[t] a=["1" "3"] b="2"`},
		{"list then option replaces", "config t\nlist a 1\nlist a 2\noption a 3\n", `[t] a="3"`},
		{"list then option keeps its place", "config t\nlist a 1\noption b 2\noption a 3\n", `[t] a="3" b="2"`},
		{"changed option keeps its place", "config t\noption a 1\noption b 2\noption a 3\n", `[t] a="3" b="2"`},
		{"changed option of the same length keeps its place", "config t\noption a 1\noption b 2\noption a 4\n", `[t] a="4" b="2"`},
		{"unchanged option stays", "config t\noption a 1\noption b 2\noption a 1\n", `[t] a="1" b="2"`},
		{"section merge", "config t n\noption a 1\nconfig u\nconfig t n\noption b 2\noption a 3\n", `[t n] a="3" b="2" [u]`},
		{"empty name is anonymous", "config t ''\noption a 1\n", `[t] a="1"`},
		{"anonymous sections", "config rule\nconfig rule\nconfig wan x\nconfig rule y\n", `[rule] [rule] [wan x] [rule y]`},
		{"abbreviated keywords", "c t n\no a 1\nl b 2\np pkg\n", `[t n] a="1" b=["2"]`},
		{"package is ignored", "package wan-lb\n\nconfig t\n", `[t]`},
		{"lax type", "config a.b-c:d n\n", `[a.b-c:d n]`},
		{"semicolon after quoted word", "config t\noption a 'x';option b y\n", `[t] a="x" b="y"`},
		{"semicolon after unquoted word ends the line", "config t\noption a x;option b y\n", `[t] a="x"`},
		{"one empty extra argument passes", "config t\noption a b ''\n", `[t] a="b"`},
		{"utf-8", "config t\noption a 'Grüße 🛰'\n", `[t] a="Grüße 🛰"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := dump(f); got != tt.want {
				t.Errorf("Parse(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"option before section", "# x\noption a b\n", "line 2: option before the first section"},
		{"list before section", "list a b\n", "line 1: list before the first section"},
		{"two values", "config t\n\toption a 'b' 'c'\n", `line 2: too many arguments (unexpected "c")`},
		{"extra list value", "config t\nlist a b c\n", `line 2: too many arguments (unexpected "c")`},
		{"extra section argument", "config t n x\n", `line 1: too many arguments (unexpected "x")`},
		{"garbage after a multi-line value", "config t\noption a 'x\ny' z\n", `line 3: too many arguments (unexpected "z")`},
		{"unterminated single quote", "config t\n\n\toption a 'b\n\n", "line 3: unterminated quoted string"},
		{"unterminated double quote", "config t\noption a \"b\\\"", "line 2: unterminated quoted string"},
		{"bare config", "config t\nconfig\n", `line 2: invalid command "config\n"`},
		{"bare config at EOF", "config", "line 1: config without name"},
		{"bare option at EOF", "config t\noption", "line 2: option without name"},
		{"config without type", "config \n", "line 1: missing section type"},
		{"empty type", "config '' n\n", "line 1: missing section type"},
		{"type with space", "config 'a b'\n", `line 1: invalid section type "a b"`},
		{"invalid section name", "config t n-1\n", `line 1: invalid section name "n-1"`},
		{"invalid option name", "config t\noption a-b c\n", `line 2: invalid option name "a-b"`},
		{"option name with space", "config t\noption 'a b' c\n", `line 2: invalid option name "a b"`},
		{"invalid list name", "config t\nlist a.b c\n", `line 2: invalid list name "a.b"`},
		{"missing option name", "config t\noption '' x\n", "line 2: missing option name"},
		{"unknown command", "config t\n\nfoo bar\n", `line 3: invalid command "foo"`},
		{"misspelt keyword", "config t\noptions a b\n", `line 2: invalid command "options"`},
		{"redeclared with other type", "config t n\nconfig u n\n", `line 2: section "n" redeclared with type "u" (was "t")`},
		{"invalid package name", "package a.b\n", `line 1: invalid package name "a.b"`},
		{"NUL byte", "config t\noption a 'b\x00'\n", "line 2: NUL byte in input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error %q", tt.in, dump(f), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error\n got %q\nwant %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	in := "config t\noption a '" + strings.Repeat("x", maxInput) + "'\n"
	if _, err := Parse(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "input larger than") {
		t.Fatalf("Parse(huge) error = %v, want size limit", err)
	}
}

func TestLines(t *testing.T) {
	in := "# head\nconfig t a\n\toption x 'multi\nline'\n\tlist l 1\n\nconfig u\n\tlist l 2\nconfig t a\n\toption y 3\n"
	f, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range f.Sections {
		got = append(got, fmt.Sprintf("%s@%d", f.ID(s), s.Line))
		for _, o := range s.Options {
			got = append(got, fmt.Sprintf("%s@%d", o.Name, o.Line))
		}
	}
	if want := "a@2 x@3 l@5 y@10 @u[0]@7 l@8"; strings.Join(got, " ") != want {
		t.Errorf("lines: got %s, want %s", strings.Join(got, " "), want)
	}
}

func TestIDsAndLookup(t *testing.T) {
	f, err := Parse(strings.NewReader("config rule\noption n 0\nconfig wan w\nconfig rule named\noption n 1\nconfig rule\noption n 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range f.Sections {
		ids = append(ids, f.ID(s))
	}
	if got, want := strings.Join(ids, " "), "@rule[0] w named @rule[2]"; got != want {
		t.Errorf("IDs = %s, want %s", got, want)
	}
	for id, want := range map[string]string{
		"@rule[0]": "0", "@rule[1]": "1", "@rule[2]": "2", "@rule[-1]": "2", "@rule[-3]": "0",
		"named": "1", "@[1]": "", "@[-1]": "2",
		"@rule[3]": "-", "@rule[-4]": "-", "@rule[x]": "-", "@rule": "-", "@nope[0]": "-", "nope": "-", "": "-",
	} {
		s := f.Section(id)
		got := "-"
		if s != nil {
			got = ""
			if o, ok := s.Get("n"); ok {
				got = o.Values[0]
			}
		}
		if got != want {
			t.Errorf("Section(%q) has n=%q, want %q", id, got, want)
		}
	}
	if got := len(f.OfType("rule")); got != 3 {
		t.Errorf("OfType(rule) has %d sections, want 3", got)
	}
	if got := f.ID(&Section{Type: "rule"}); got != "" {
		t.Errorf("ID of a foreign anonymous section = %q, want empty", got)
	}
}

func TestEdit(t *testing.T) {
	f := &File{}
	wan, err := f.Add("wan", "wan")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][2]string{{"wan", "wan"}, {"", ""}, {"a b", ""}, {"t", "a-b"}, {"t", "@t[0]"}} {
		if _, err := f.Add(bad[0], bad[1]); err == nil {
			t.Errorf("Add(%q, %q) succeeded", bad[0], bad[1])
		}
	}
	r1, _ := f.Add("rule", "")
	r2, _ := f.Add("rule", "")
	wan.Set("a", "1")
	wan.SetList("b", []string{"x", "y"})
	wan.Set("c", "3")
	wan.Set("b", "2")               // list -> option in place
	wan.SetList("a", []string{"p"}) // option -> list in place
	wan.Set("c", "")                // empty deletes, as uci set does
	wan.SetList("d", nil)           // empty list: nothing
	r2.Set("n", "2")
	f.Remove(r1)
	f.Remove(&Section{}) // not in f: no-op
	if got, want := dump(f), `[wan wan] a=["p"] b="2" [rule] n="2"`; got != want {
		t.Errorf("after edits: %s, want %s", got, want)
	}
	if f.ID(r2) != "@rule[0]" {
		t.Errorf("ID after Remove = %s", f.ID(r2))
	}
	wan.Delete("a")
	wan.Delete("zz")
	if _, ok := wan.Get("a"); ok {
		t.Error("a still present after Delete")
	}
}

func TestValid(t *testing.T) {
	for s, want := range map[string][2]bool{ // {ValidName, ValidType}
		"wan_1": {true, true}, "A9": {true, true}, "": {false, false}, "wan-ext": {false, true},
		"a.b": {false, true}, "a b": {false, false}, "a\tb": {false, false}, "grüße": {false, false},
		"a'b": {false, true}, "~!": {false, true}, "a\x7f": {false, false},
	} {
		if ValidName(s) != want[0] || ValidType(s) != want[1] {
			t.Errorf("%q: ValidName=%v ValidType=%v, want %v", s, ValidName(s), ValidType(s), want)
		}
	}
}
