package uciconf

// Helpers for the differential tests against OpenWrt's real uci CLI (built
// by the openwrt-tools kit): running it on a private config directory, and
// reading what it prints (`uci export`, `uci show`) into a view that can
// be compared with a parsed File. The readers here are deliberately
// independent of Parse: they understand only the canonical forms uci
// prints, so a bug in Parse cannot hide itself.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/openwrttest"
)

// realUCI runs the kit's uci with -c (config dir) and -t (save dir) on
// private directories. It needs no root: only `uci` itself is run.
type realUCI struct {
	t          testing.TB
	bin        string
	conf, save string
}

var pkgSeq int

func newRealUCI(t testing.TB) *realUCI {
	t.Helper()
	bin := openwrttest.Bin("uci")
	if _, err := os.Stat(bin); err != nil {
		openwrttest.Unavailable(t, fmt.Sprintf("uci from openwrt-tools: %v (build it with `make deps`)", err))
	}
	return &realUCI{t: t, bin: bin, conf: t.TempDir(), save: t.TempDir()}
}

// newPkg returns a package name of its own. libuci also reads staged
// changes from /tmp/.uci whatever -t says; a name no router or other test
// uses keeps any there out of the results.
func (u *realUCI) newPkg() string {
	pkgSeq++
	name := fmt.Sprintf("wanlbdiff%d_%d", os.Getpid(), pkgSeq)
	if _, err := os.Stat(filepath.Join("/tmp/.uci", name)); err == nil {
		u.t.Fatalf("/tmp/.uci/%s exists: uci would apply its staged changes", name)
	}
	return name
}

// run runs uci with args; err includes its stderr.
func (u *realUCI) run(args ...string) (string, error) {
	cmd := exec.Command(u.bin, append([]string{"-c", u.conf, "-t", u.save}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("uci %q: %v: %s", args, err, stderr.String())
	}
	return stdout.String(), nil
}

func (u *realUCI) must(args ...string) string {
	u.t.Helper()
	out, err := u.run(args...)
	if err != nil {
		u.t.Fatal(err)
	}
	return out
}

func (u *realUCI) path(pkg string) string { return filepath.Join(u.conf, pkg) }

// view is a package as a reader sees it: sections in order, each with its
// uci id (name, or @type[i] for an anonymous one) and options in order.
type view []viewSection

type viewSection struct {
	id, typ string
	opts    []viewOption
}

type viewOption struct {
	name string
	// list is 1 for a list, 0 for an option, -1 when the source cannot
	// tell (`uci show` prints a one-item list like an option).
	list int
	vals []string
}

// viewOf is how wanlb sees f. Options that cannot be written (empty
// value, empty list) are left out, as they do not exist for libuci.
func viewOf(f *File) view {
	var v view
	for _, s := range f.Sections {
		vs := viewSection{id: f.ID(s), typ: s.Type}
		for _, o := range s.Options {
			if o == nil || len(o.Values) == 0 || !o.List && o.Values[0] == "" {
				continue
			}
			l := 0
			if o.List {
				l = 1
			}
			vs.opts = append(vs.opts, viewOption{o.Name, l, o.Values})
		}
		v = append(v, vs)
	}
	return v
}

func (v view) String() string {
	var b strings.Builder
	for _, s := range v {
		fmt.Fprintf(&b, "[%s=%s]", s.id, s.typ)
		for _, o := range s.opts {
			kw := map[int]string{1: "list", 0: "option", -1: "?"}[o.list]
			fmt.Fprintf(&b, " %s %s=%q", kw, o.name, o.vals)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// sameView reports where a and b differ, "" when they agree. A list flag
// of -1 matches either kind holding the same single value.
func sameView(a, b view) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d sections vs %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.id != y.id || x.typ != y.typ || len(x.opts) != len(y.opts) {
			return fmt.Sprintf("section %d: %s=%s with %d options vs %s=%s with %d", i, x.id, x.typ, len(x.opts), y.id, y.typ, len(y.opts))
		}
		for j := range x.opts {
			p, q := x.opts[j], y.opts[j]
			if p.name != q.name || p.list >= 0 && q.list >= 0 && p.list != q.list || fmt.Sprintf("%q", p.vals) != fmt.Sprintf("%q", q.vals) {
				return fmt.Sprintf("%s option %d: %s(%d)=%q vs %s(%d)=%q", x.id, j, p.name, p.list, p.vals, q.name, q.list, q.vals)
			}
		}
	}
	return ""
}

// scanner reads uci's canonical output.
type scanner struct {
	s   string
	pos int
}

func (c *scanner) eat(prefix string) bool {
	if strings.HasPrefix(c.s[c.pos:], prefix) {
		c.pos += len(prefix)
		return true
	}
	return false
}

// until returns the text up to (not including) the first of stops.
func (c *scanner) until(stops string) string {
	i := strings.IndexAny(c.s[c.pos:], stops)
	if i < 0 {
		i = len(c.s) - c.pos
	}
	w := c.s[c.pos : c.pos+i]
	c.pos += i
	return w
}

// quoted reads a single-quoted value as uci prints it: a quote inside
// is written as quote, backslash, quote, quote.
func (c *scanner) quoted() (string, error) {
	if !c.eat("'") {
		return "", c.errorf("want a quote")
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(c.s[c.pos:], '\'')
		if i < 0 {
			return "", c.errorf("unterminated quote")
		}
		b.WriteString(c.s[c.pos : c.pos+i])
		c.pos += i + 1
		if !c.eat(`\''`) {
			return b.String(), nil
		}
		b.WriteByte('\'')
	}
}

func (c *scanner) errorf(msg string) error {
	return fmt.Errorf("offset %d (%q): %s", c.pos, c.s[c.pos:min(len(c.s), c.pos+30)], msg)
}

// exportView reads `uci export` output: a package line, then per section
// "\nconfig TYPE[ 'NAME']\n" and "\toption|list NAME 'VALUE'\n" lines.
func exportView(out string) (view, error) {
	c := &scanner{s: out}
	if c.eat("package ") {
		c.until("\n")
		c.eat("\n")
	}
	var v view
	count := map[string]int{}
	for c.pos < len(c.s) {
		switch {
		case c.eat("\nconfig "):
			typ := c.until(" \n")
			id := "@" + typ + "[" + strconv.Itoa(count[typ]) + "]"
			count[typ]++
			if c.eat(" ") {
				name, err := c.quoted()
				if err != nil {
					return nil, err
				}
				id = name
			}
			v = append(v, viewSection{id: id, typ: typ})
			if !c.eat("\n") {
				return nil, c.errorf("want the end of the config line")
			}
		case len(v) > 0 && (c.eat("\toption ") || c.eat("\tlist ")):
			list := strings.HasSuffix(c.s[:c.pos], "list ")
			name := c.until(" ")
			if !c.eat(" ") {
				return nil, c.errorf("want a value")
			}
			val, err := c.quoted()
			if err != nil {
				return nil, err
			}
			s := &v[len(v)-1]
			if n := len(s.opts); list && n > 0 && s.opts[n-1].name == name && s.opts[n-1].list == 1 {
				s.opts[n-1].vals = append(s.opts[n-1].vals, val)
			} else {
				s.opts = append(s.opts, viewOption{name, map[bool]int{true: 1, false: 0}[list], []string{val}})
			}
			if !c.eat("\n") {
				return nil, c.errorf("want the end of the option line")
			}
		case c.s[c.pos:] == "\n":
			c.pos++
		default:
			return nil, c.errorf("unexpected text")
		}
	}
	return v, nil
}

// showView reads `uci show PKG`: "PKG.ID=TYPE" per section, then
// "PKG.ID.OPTION='v'" or, for a list, quoted items separated by spaces.
func showView(pkg, out string) (view, error) {
	c := &scanner{s: out}
	var v view
	for c.pos < len(c.s) {
		if !c.eat(pkg + ".") {
			return nil, c.errorf("want the package name")
		}
		key := c.until("=")
		if !c.eat("=") {
			return nil, c.errorf("want =")
		}
		id, opt, isOpt := strings.Cut(key, ".")
		if !isOpt {
			v = append(v, viewSection{id: id, typ: c.until("\n")})
			c.eat("\n")
			continue
		}
		if len(v) == 0 || v[len(v)-1].id != id {
			return nil, c.errorf("option outside its section")
		}
		var vals []string
		for {
			val, err := c.quoted()
			if err != nil {
				return nil, err
			}
			vals = append(vals, val)
			if c.eat("\n") {
				break
			}
			if !c.eat(" ") {
				return nil, c.errorf("want a space or the end of the line")
			}
		}
		list := 1
		if len(vals) == 1 {
			list = -1
		}
		s := &v[len(v)-1]
		s.opts = append(s.opts, viewOption{opt, list, vals})
	}
	return v, nil
}

// uciViews returns uci's export and show of pkg.
func (u *realUCI) uciViews(pkg string) (export, show view) {
	u.t.Helper()
	var err error
	if export, err = exportView(u.must("export", pkg)); err != nil {
		u.t.Fatalf("uci export %s: %v", pkg, err)
	}
	if show, err = showView(pkg, u.must("show", pkg)); err != nil {
		u.t.Fatalf("uci show %s: %v", pkg, err)
	}
	return export, show
}

// agree fails t unless uci's export and show of pkg match want.
func (u *realUCI) agree(t testing.TB, pkg string, want view, context string) {
	t.Helper()
	export, show := u.uciViews(pkg)
	if d := sameView(export, want); d != "" {
		t.Fatalf("%s: uci export differs from wanlb: %s\nuci:\n%swanlb:\n%s", context, d, export, want)
	}
	if d := sameView(show, want); d != "" {
		t.Fatalf("%s: uci show differs from wanlb: %s\nuci:\n%swanlb:\n%s", context, d, show, want)
	}
}
