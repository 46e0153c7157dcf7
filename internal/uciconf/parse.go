package uciconf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxInput bounds what Parse reads, so a corrupt or hostile file cannot
// exhaust a router's memory; real UCI files are a few kilobytes.
const maxInput = 16 << 20

// parser is a port of libuci's file.c. libuci edits its line buffer in place
// (it unquotes into the same buffer, and strtok and the comment and ';'
// handling write NUL bytes into it); several of its quirks follow from that,
// so we keep the same buffer discipline instead of a conventional lexer:
//   - ';' separates commands, but when it directly follows an unquoted word
//     the terminating NUL lands on it and the rest of the line is ignored;
//   - only one argument past the expected ones is checked, and an empty one
//     passes (`option a b ""` is accepted);
//   - the keywords may be abbreviated to p, c, o and l.
//
// Index len(buf) and beyond reads as NUL, like the C string's terminator.
type parser struct {
	r      *bufio.Reader
	buf    []byte
	pos    int
	filled int // libuci's buf_filled: bounds the skip past a command word
	line   int // physical lines read so far; the current line's number
	read   int
	f      *File
	sec    *sectionState
	named  map[string]*sectionState
}

// sectionState indexes a section's options by name while parsing, so that
// repeated statements cost O(1).
type sectionState struct {
	s   *Section
	idx map[string]int
}

// Parse reads a UCI file with libuci's semantics. Errors name the line:
// "line 7: unterminated quoted string". As in libuci, a repeated option
// replaces the earlier one where that stood, an empty option value is
// ignored, "list" appends and turns an earlier option of that name into a
// list (in the option's place), and a repeated "config TYPE NAME" continues
// the earlier section, which must have the same type. Input containing NUL bytes or larger than 16 MiB is
// rejected.
func Parse(r io.Reader) (*File, error) {
	p := &parser{r: bufio.NewReader(r), f: &File{}, named: map[string]*sectionState{}}
	for {
		p.pos, p.buf = 0, p.buf[:0]
		before := p.line
		if err := p.getln(0); err != nil {
			return nil, err
		}
		if p.line == before { // EOF
			break
		}
		if err := p.parseLine(); err != nil {
			return nil, err
		}
	}
	return p.f, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", p.line, fmt.Sprintf(format, args...))
}

func (p *parser) ch(i int) byte {
	if i < len(p.buf) {
		return p.buf[i]
	}
	return 0
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

// getln appends the next input line at offset, like libuci's uci_getln; at
// EOF it leaves the buffer ending at offset.
func (p *parser) getln(offset int) error {
	p.buf = p.buf[:min(offset, len(p.buf))]
	offset = len(p.buf)
	for {
		chunk, err := p.r.ReadSlice('\n')
		p.buf = append(p.buf, chunk...)
		if p.read += len(chunk); p.read > maxInput {
			return fmt.Errorf("line %d: input larger than %d bytes", p.line+1, maxInput)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("line %d: read: %w", p.line+1, err)
		}
		break
	}
	if len(p.buf) == offset {
		return nil
	}
	p.line++
	p.filled = len(p.buf)
	if bytes.IndexByte(p.buf[offset:], 0) >= 0 {
		return p.errorf("NUL byte in input")
	}
	return nil
}

func (p *parser) skipSpace() {
	for isSpace(p.ch(p.pos)) {
		p.pos++
	}
}

// parseLine runs the commands on one line (more than one if split by ';').
func (p *parser) parseLine() error {
	p.skipSpace()
	for {
		// strtok(cur, " \t"): the command word, NUL-terminated in place.
		i := p.pos
		for c := p.ch(i); c == ' ' || c == '\t'; c = p.ch(i) {
			i++
		}
		if p.ch(i) == 0 {
			return nil
		}
		start := i
		for c := p.ch(i); c != 0 && c != ' ' && c != '\t'; c = p.ch(i) {
			i++
		}
		word := string(p.buf[start:i])
		if i < len(p.buf) {
			p.buf[i] = 0
		}
		var err error
		switch word {
		case "p", "package":
			err = p.parsePackage()
		case "c", "config":
			err = p.parseConfig()
		case "o", "option":
			err = p.parseOption(false)
		case "l", "list":
			err = p.parseOption(true)
		default:
			if word[0] == '#' {
				return nil
			}
			return p.errorf("invalid command %q", word)
		}
		if err != nil {
			return err
		}
	}
}

// skipWord moves past the NUL-terminated command word (uci_increase_pos); a
// word that ends the input has no arguments.
func (p *parser) skipWord(what string) error {
	n := 0
	for p.ch(p.pos+n) != 0 {
		n++
	}
	if p.pos+n+1 > p.filled {
		return p.errorf("%s without name", what)
	}
	p.pos += n + 1
	return nil
}

// nextArg parses one argument (libuci's next_arg). what names it in errors;
// valid, if set, checks a non-empty result.
func (p *parser) nextArg(required bool, what string, valid func(string) bool) (string, error) {
	p.skipSpace()
	start, end := p.pos, p.pos
	if p.ch(p.pos) == ';' {
		p.buf[p.pos] = 0
		p.pos++
	} else {
		var err error
		if end, err = p.parseStr(); err != nil {
			return "", err
		}
	}
	if start >= end {
		if required {
			return "", p.errorf("missing %s", what)
		}
		return "", nil
	}
	s := string(p.buf[start:end])
	if valid != nil && !valid(s) {
		return "", p.errorf("invalid %s %q", what, s)
	}
	return s, nil
}

// assertEOL rejects an extra argument, as libuci does in strict mode (its
// default). Like libuci it looks at one argument only.
func (p *parser) assertEOL() error {
	p.skipSpace()
	s, err := p.nextArg(false, "", nil)
	if err == nil && s != "" {
		err = p.errorf("too many arguments (unexpected %q)", s)
	}
	return err
}

// parseStr unquotes one argument in place starting at pos and returns where
// it ends: unquoted runs (backslash escapes), '...' (no escapes) and "..."
// (backslash escapes) concatenate until whitespace; '#' starts a comment.
func (p *parser) parseStr() (int, error) {
	t := p.pos
	next := true
loop:
	for {
		var err error
		switch p.ch(p.pos) {
		case '\'':
			err = p.quoted(&t, '\'')
		case '"':
			err = p.quoted(&t, '"')
		case '#':
			p.buf[p.pos] = 0
			break loop
		case 0:
			break loop
		case ';':
			next = false
			break loop
		case '\\':
			var keep bool
			if keep, err = p.backslash(); keep {
				p.addc(&t)
			}
		default:
			p.addc(&t)
		}
		if err != nil {
			return t, err
		}
		if c := p.ch(p.pos); c == 0 || isSpace(c) {
			break
		}
	}
	if p.ch(p.pos) != 0 && next {
		p.pos++
	}
	if t < len(p.buf) {
		p.buf[t] = 0
	}
	return t, nil
}

// quoted copies a quoted run, reading further lines for multi-line values.
func (p *parser) quoted(t *int, q byte) error {
	start := p.line
	p.pos++
	for {
		switch c := p.ch(p.pos); {
		case c == q:
			p.pos++
			return nil
		case c == 0:
			if err := p.getln(p.pos); err != nil {
				return err
			}
			if p.ch(p.pos) == 0 { // libuci names the last line; the opening one helps more
				return fmt.Errorf("line %d: unterminated quoted string", start)
			}
		case c == '\\' && q == '"':
			if keep, err := p.backslash(); err != nil {
				return err
			} else if keep {
				p.addc(t)
			}
		default:
			p.addc(t)
		}
	}
}

// backslash skips a backslash and reports whether the next character is to
// be kept; a backslash before the end of the line joins the next line.
func (p *parser) backslash() (bool, error) {
	p.pos++
	c := p.ch(p.pos)
	if c == 0 || c == '\n' || c == '\r' && p.ch(p.pos+1) == '\n' && p.ch(p.pos+2) == 0 {
		return false, p.getln(p.pos)
	}
	return true, nil
}

func (p *parser) addc(t *int) {
	p.buf[*t] = p.buf[p.pos]
	*t++
	p.pos++
}

// parsePackage accepts "package NAME"; a file holds a single package, so
// libuci validates the name and ignores it when loading a file.
func (p *parser) parsePackage() error {
	if err := p.skipWord("package"); err != nil {
		return err
	}
	if _, err := p.nextArg(true, "package name", validPackage); err != nil {
		return err
	}
	return p.assertEOL()
}

// validPackage is libuci's check for package names: [A-Za-z0-9_-]+.
func validPackage(s string) bool {
	return ValidName(strings.ReplaceAll(s, "-", "_"))
}

func (p *parser) parseConfig() error {
	line := p.line
	if err := p.skipWord("config"); err != nil {
		return err
	}
	typ, err := p.nextArg(true, "section type", ValidType)
	if err != nil {
		return err
	}
	name, err := p.nextArg(false, "section name", ValidName)
	if err != nil {
		return err
	}
	if err := p.assertEOL(); err != nil {
		return err
	}
	if st := p.named[name]; name != "" && st != nil {
		// libuci continues the earlier section, but in strict mode refuses a
		// different type.
		if st.s.Type != typ {
			return p.errorf("section %q redeclared with type %q (was %q)", name, typ, st.s.Type)
		}
		p.sec = st
		return nil
	}
	p.sec = &sectionState{s: &Section{Type: typ, Name: name, Line: line}, idx: map[string]int{}}
	p.f.Sections = append(p.f.Sections, p.sec.s)
	if name != "" {
		p.named[name] = p.sec
	}
	return nil
}

func (p *parser) parseOption(list bool) error {
	line := p.line
	kw := "option"
	if list {
		kw = "list"
	}
	if p.sec == nil {
		return p.errorf("%s before the first section", kw)
	}
	if err := p.skipWord(kw); err != nil {
		return err
	}
	name, err := p.nextArg(true, kw+" name", ValidName)
	if err != nil {
		return err
	}
	value, err := p.nextArg(false, "", nil)
	if err != nil {
		return err
	}
	if err := p.assertEOL(); err != nil {
		return err
	}
	st := p.sec
	i, exists := st.idx[name]
	var values []string
	switch {
	case list && exists && st.s.Options[i].List: // uci_add_list: append
		st.s.Options[i].Values = append(st.s.Options[i].Values, value)
		return nil
	case list && exists: // uci_add_list turns an option into a list
		values = []string{st.s.Options[i].Values[0], value}
	case list:
		values = []string{value}
	case value == "": // uci_set while loading: an empty value is ignored
		return nil
	case exists && !st.s.Options[i].List && st.s.Options[i].Values[0] == value:
		return nil // uci_set leaves an unchanged option alone
	default:
		values = []string{value}
	}
	o := &Option{Name: name, List: list, Values: values, Line: line}
	if exists {
		// libuci allocates the replacement right after the old element
		// (uci_alloc_option/uci_alloc_list with "after"), so a redefined
		// option keeps the place where it first stood.
		st.s.Options[i] = o
		return nil
	}
	st.idx[name] = len(st.s.Options)
	st.s.Options = append(st.s.Options, o)
	return nil
}
