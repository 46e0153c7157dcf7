package uciconf

// Differential tests against OpenWrt's real uci CLI, in both directions:
// what wanlb writes, uci reads the same (export, show, get); what uci
// writes (set, add_list, del_list, add, rename, delete, commit), wanlb
// reads the same; and a hand-written or messy file means the same to both,
// also after wanlb rewrote it. Values are random (seeded: UCI_DIFF_SEED
// replays a run) and full of quotes, backslashes, newlines, tabs, unicode
// and uci's own '\'' escape.

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func diffSeed(t *testing.T) int64 {
	seed := int64(20261203)
	if s := os.Getenv("UCI_DIFF_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("UCI_DIFF_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (UCI_DIFF_SEED replays it)", seed)
	return seed
}

// scaled is n, or a tenth of it when this test binary runs under
// qemu-user (make qemu): every uci call then costs an emulated fork and
// exec, and the code under test is the same as in the native run. A child
// process runs natively, so its `uname -m` names the host.
func scaled(t *testing.T, n int) int {
	out, err := exec.Command("uname", "-m").Output()
	if err != nil {
		t.Fatalf("uname -m: %v", err)
	}
	host := map[string]string{"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "mips": "mips", "i686": "386"}[strings.TrimSpace(string(out))]
	if host == "" || host == runtime.GOARCH {
		return n
	}
	t.Logf("%s test binary on a %s host (emulated): %d of %d cases", runtime.GOARCH, host, n/10, n)
	return n / 10
}

// pieces make up random values: every character class uci quotes or
// escapes differently, uci's own escape, and multi-byte UTF-8.
var pieces = []string{"a", "Z9", " ", "  ", "'", `"`, `\`, `\\`, "\n", "\t", `'\''`, "#", ";", "$x", "`", "=", ".", "@w[0]",
	"Grüße", "🛰", "日本", "\r\n", "\\n", `\"`, "--", "x y"}

func randValue(r *rand.Rand, max int) string {
	var b strings.Builder
	for n := r.Intn(max + 1); n > 0; n-- {
		b.WriteString(pieces[r.Intn(len(pieces))])
	}
	return b.String()
}

func nonEmpty(r *rand.Rand) string {
	for {
		if v := randValue(r, 5); v != "" {
			return v
		}
	}
}

// Few option names and types, so that names repeat and anonymous sections
// share types (their @type[i] ids then depend on order).
var (
	optNames = []string{"a", "b", "c", "label", "track_ip", "x_1"}
	secTypes = []string{"wan", "rule", "wan-ext", "globals"}
)

func pick(r *rand.Rand, xs []string) string { return xs[r.Intn(len(xs))] }

// randFile builds a File through the API, as wanlb's config writers do:
// options and lists set, replaced (also option <-> list) and deleted.
func randFile(r *rand.Rand) *File {
	f := &File{}
	for i, n := 0, 1+r.Intn(5); i < n; i++ {
		name := ""
		if r.Intn(2) == 0 {
			name = fmt.Sprintf("s%d", i)
		}
		s, err := f.Add(pick(r, secTypes), name)
		if err != nil {
			panic(err)
		}
		for j, m := 0, r.Intn(8); j < m; j++ {
			switch o := pick(r, optNames); r.Intn(5) {
			case 0, 1:
				s.Set(o, randValue(r, 5)) // "" deletes
			case 2, 3:
				var vals []string
				for k := r.Intn(4); k > 0; k-- {
					vals = append(vals, randValue(r, 3))
				}
				s.SetList(o, vals)
			default:
				s.Delete(o)
			}
		}
	}
	return f
}

func TestRealUCIReadsWhatWanlbWrites(t *testing.T) {
	u := newRealUCI(t)
	r := rand.New(rand.NewSource(diffSeed(t)))
	cases := scaled(t, 300)
	options := 0
	for i := 0; i < cases; i++ {
		f := randFile(r)
		pkg := u.newPkg()
		if err := WriteFile(u.path(pkg), f); err != nil {
			t.Fatal(err)
		}
		want := viewOf(f)
		u.agree(t, pkg, want, fmt.Sprintf("case %d", i))
		// uci get prints an option's value as it is.
		for _, s := range want {
			for _, o := range s.opts {
				options++
				if o.list == 1 || i%5 != 0 {
					continue
				}
				if got := u.must("get", pkg+"."+s.id+"."+o.name); got != o.vals[0]+"\n" {
					t.Fatalf("case %d: uci get %s.%s.%s = %q, want %q", i, pkg, s.id, o.name, got, o.vals[0])
				}
			}
		}
	}
	t.Logf("%d files, %d options and lists", cases, options)
}

// uciState tracks what the random uci commands created, so every command
// is valid (uci must accept each one).
type uciState struct {
	secs  []*uciSec
	names int
}

type uciSec struct {
	ref  string // name, or the cfgXXXXXX uci add printed
	opts map[string][]string
	list map[string]bool
}

func (st *uciState) newName(prefix string) string {
	st.names++
	return fmt.Sprintf("%s%d", prefix, st.names)
}

// randUCIOps runs n random commands on pkg through the real CLI.
func randUCIOps(t *testing.T, u *realUCI, r *rand.Rand, pkg string, st *uciState, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if len(st.secs) == 0 || r.Intn(6) == 0 {
			s := &uciSec{opts: map[string][]string{}, list: map[string]bool{}}
			if r.Intn(2) == 0 {
				s.ref = st.newName("n")
				u.must("set", pkg+"."+s.ref+"="+pick(r, secTypes))
			} else {
				s.ref = strings.TrimSpace(u.must("add", pkg, pick(r, secTypes)))
			}
			st.secs = append(st.secs, s)
			continue
		}
		s := st.secs[r.Intn(len(st.secs))]
		o := pick(r, optNames)
		key := pkg + "." + s.ref + "." + o
		switch r.Intn(9) {
		case 0, 1: // a new option, or a list or option turned into another option
			v := nonEmpty(r)
			u.must("set", key+"="+v)
			s.opts[o], s.list[o] = []string{v}, false
		case 2, 3: // a new list, an item more, or an option turned into a list
			v := randValue(r, 3)
			u.must("add_list", key+"="+v)
			s.opts[o], s.list[o] = append(s.opts[o], v), true
		case 4: // an item removed (every copy of it), or a no-op
			if vals := s.opts[o]; s.list[o] && len(vals) > 0 {
				v := vals[r.Intn(len(vals))]
				u.must("del_list", key+"="+v)
				s.opts[o] = slices.DeleteFunc(vals, func(x string) bool { return x == v })
			}
		case 5: // an option renamed
			if _, ok := s.opts[o]; ok {
				to := pick(r, optNames)
				if _, taken := s.opts[to]; !taken {
					u.must("rename", key+"="+to)
					s.opts[to], s.list[to] = s.opts[o], s.list[o]
					delete(s.opts, o)
				}
			}
		case 6:
			if _, ok := s.opts[o]; ok {
				u.must("delete", key)
				delete(s.opts, o)
			}
		case 7: // a section renamed: an anonymous one becomes named
			to := st.newName("r")
			u.must("rename", pkg+"."+s.ref+"="+to)
			s.ref = to
		case 8:
			if r.Intn(3) == 0 {
				u.must("delete", pkg+"."+s.ref)
				st.secs = slices.DeleteFunc(st.secs, func(x *uciSec) bool { return x == s })
			}
		}
	}
}

func TestWanlbReadsWhatUCIWrites(t *testing.T) {
	u := newRealUCI(t)
	r := rand.New(rand.NewSource(diffSeed(t)))
	cases := scaled(t, 100)
	options := 0
	for i := 0; i < cases; i++ {
		pkg := u.newPkg()
		if err := os.WriteFile(u.path(pkg), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		st := &uciState{}
		randUCIOps(t, u, r, pkg, st, 10+r.Intn(15))
		u.must("commit", pkg)
		f, err := ReadFile(u.path(pkg))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		u.agree(t, pkg, viewOf(f), fmt.Sprintf("case %d, after commit", i))

		// Address sections by the ids wanlb gives them (@type[i] for the
		// anonymous ones): uci must find the same section.
		for _, s := range f.Sections {
			id := f.ID(s)
			v := nonEmpty(r)
			u.must("set", pkg+"."+id+".marker="+v)
			s.Set("marker", v)
		}
		u.must("commit", pkg)
		g, err := ReadFile(u.path(pkg))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if d := sameView(viewOf(g), viewOf(f)); d != "" {
			t.Fatalf("case %d: sections addressed by wanlb's ids: %s\nuci wrote:\n%swanlb expected:\n%s", i, d, viewOf(g), viewOf(f))
		}
		u.agree(t, pkg, viewOf(g), fmt.Sprintf("case %d, after setting by id", i))
		for _, s := range viewOf(g) {
			options += len(s.opts)
		}
	}
	t.Logf("%d packages, %d options and lists written by uci", cases, options)
}

// encode writes v in one of the syntaxes libuci reads: single quotes (a
// quote inside written as quote, backslash, quote, quote), double quotes
// (backslash escapes), bare words (backslash escapes), or a concatenation
// of them.
func encode(r *rand.Rand, v string) string {
	sq := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	dq := func(s string) string {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	bare := func(s string) (string, bool) {
		if s == "" || strings.ContainsAny(s, "\n\r") {
			return "", false
		}
		var b strings.Builder
		for _, c := range s {
			if strings.ContainsRune(" \t'\"\\#;", c) {
				b.WriteByte('\\')
			}
			b.WriteRune(c)
		}
		return b.String(), true
	}
	switch r.Intn(4) {
	case 0:
		return dq(v)
	case 1:
		if w, ok := bare(v); ok {
			return w
		}
	case 2:
		if i := strings.IndexAny(v, "'\" "); i > 0 {
			return dq(v[:i]) + sq(v[i:])
		}
	}
	return sq(v)
}

// messyFile writes a random file in the many forms libuci accepts:
// abbreviated keywords, odd indentation, comments, ';' after a quoted
// value, sections continued later, options defined again (same value,
// new value, empty value, turned into a list and back).
func messyFile(r *rand.Rand) string {
	var b strings.Builder
	named := map[string]string{}
	var names []string
	kw := func(long, short string) string {
		if r.Intn(4) == 0 {
			return short
		}
		return long
	}
	indent := func() string { return pick(r, []string{"\t", "  ", "", "\t "}) }
	if r.Intn(3) == 0 {
		b.WriteString("package pkg\n")
	}
	for i, n := 0, 1+r.Intn(6); i < n; i++ {
		if r.Intn(4) == 0 {
			b.WriteString("# a comment with 'quotes'\n\n")
		}
		switch {
		case len(names) > 0 && r.Intn(4) == 0: // continue a named section
			name := pick(r, names)
			fmt.Fprintf(&b, "%s %s %s\n", kw("config", "c"), named[name], encode(r, name))
		case r.Intn(2) == 0:
			typ, name := pick(r, secTypes), fmt.Sprintf("s%d", i)
			named[name] = typ
			names = append(names, name)
			fmt.Fprintf(&b, "%s %s %s\n", kw("config", "c"), typ, encode(r, name))
		default:
			fmt.Fprintf(&b, "%s %s\n", kw("config", "c"), pick(r, secTypes))
		}
		for j, m := 0, r.Intn(9); j < m; j++ {
			o := pick(r, optNames)
			word, v := kw("option", "o"), nonEmpty(r)
			switch r.Intn(6) {
			case 0, 1:
				word, v = kw("list", "l"), randValue(r, 3)
			case 2:
				v = "" // ignored by libuci, also when the option exists
			}
			val := encode(r, v)
			if v == "" {
				val = pick(r, []string{"''", `""`, ""})
			}
			line := indent() + word + " " + o + " " + val
			if strings.HasSuffix(val, "'") && r.Intn(4) == 0 {
				line += "; " + kw("option", "o") + " semi " + encode(r, nonEmpty(r))
			} else if strings.HasSuffix(val, "'") && r.Intn(4) == 0 {
				line += " # note"
			}
			b.WriteString(line + "\n")
		}
		b.WriteString(pick(r, []string{"\n", "", "\n\n"}))
	}
	return b.String()
}

// readAlike checks that uci and wanlb read text the same, or both refuse
// it; then that uci reads wanlb's rewrite of it exactly as the original.
func readAlike(t *testing.T, u *realUCI, name, text string) bool {
	t.Helper()
	pkg := u.newPkg()
	if err := os.WriteFile(u.path(pkg), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, perr := Parse(strings.NewReader(text))
	export, uerr := u.run("export", pkg)
	if (perr != nil) != (uerr != nil) {
		t.Fatalf("%s: wanlb: %v; uci: %v\n%s", name, perr, uerr, text)
	}
	if perr != nil {
		return false
	}
	u.agree(t, pkg, viewOf(f), name)
	rewritten := u.newPkg()
	if err := WriteFile(u.path(rewritten), f); err != nil {
		t.Fatal(err)
	}
	again := u.must("export", rewritten)
	if strings.TrimPrefix(again, "package "+rewritten+"\n") != strings.TrimPrefix(export, "package "+pkg+"\n") {
		t.Fatalf("%s: uci reads wanlb's rewrite differently:\noriginal:\n%s\nuci export of the original:\n%s\nuci export of the rewrite:\n%s", name, text, export, again)
	}
	return true
}

func TestMessyFilesReadAlike(t *testing.T) {
	u := newRealUCI(t)
	r := rand.New(rand.NewSource(diffSeed(t)))
	cases := scaled(t, 300)
	valid := 0
	for i := 0; i < cases; i++ {
		if readAlike(t, u, fmt.Sprintf("case %d", i), messyFile(r)) {
			valid++
		}
	}
	t.Logf("%d files, %d valid, %d refused by both", cases, valid, cases-valid)
}

// Hand-picked files: the repository's test inputs, the fuzz corpus (valid
// and invalid ones), and options defined again, which must keep the place
// where they first stood.
func TestTrickyFilesReadAlike(t *testing.T) {
	u := newRealUCI(t)
	files := map[string]string{
		"option redefined":              "config t\n\toption a 1\n\toption b 2\n\toption a 33\n",
		"option redefined, same length": "config t\n\toption a 1\n\toption b 2\n\toption a 3\n",
		"option redefined, same value":  "config t\n\toption a 1\n\toption b 2\n\toption a 1\n",
		"option turned into a list":     "config t\n\toption a 1\n\toption b 2\n\tlist a 3\n",
		"list turned into an option":    "config t\n\tlist a 1\n\tlist a 2\n\toption b 2\n\toption a 3\n",
		"option, list, option":          "config t\n\toption a 1\n\toption b 2\n\tlist a 3\n\toption c 4\n\toption a 5\n",
		"empty value keeps option":      "config t\n\toption a 1\n\toption b 2\n\toption a ''\n",
		"section continued":             "config t n\n\toption a 1\n\toption b 2\nconfig u\n\toption a 1\nconfig t n\n\toption c 3\n\toption a 4\n",
		"section continued, other type": "config t n\nconfig u n\n",
		"quote escape everywhere":       "config 'wan' 'it'\n\toption label 'Bob'\\''s '\\'''\\'' line'\n\tlist l ''\\'''\n",
		"multi-line values":             "config t\n\toption a 'x\n\ty\n'\n\toption b \"p\nq\"\n\tlist c '\n'\n",
		"backslash continuation":        "config t\n\toption a x\\\ny\n",
		"unterminated quote":            "config t\n\toption a 'x\n",
		"option before section":         "option a 1\n",
		"crlf":                          "config t\r\n\toption a 'x'\r\n\toption b y\r\n",
		"anonymous of several types":    "config a\nconfig b\nconfig a\n\toption x 1\nconfig b n\nconfig a\n",
	}
	for _, dir := range []string{"testdata", filepath.Join("testdata", "fuzz", "FuzzParse")} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			if body, ok := strings.CutPrefix(text, "go test fuzz v1\nstring("); ok {
				if text, err = strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(body), ")"))); err != nil {
					t.Fatalf("%s: %v", e.Name(), err)
				}
			}
			files[filepath.Join(dir, e.Name())] = text
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	valid := 0
	for _, name := range names {
		if readAlike(t, u, name, files[name]) {
			valid++
		}
	}
	t.Logf("%d files, %d valid, %d refused by both", len(files), valid, len(files)-valid)
}
