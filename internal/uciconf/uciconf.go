// Package uciconf reads and writes UCI configuration files (OpenWrt's /etc/config format) with libuci's syntax and semantics.
//
// Parse follows libuci's parser (file.c) and its update rules (list.c), so a
// file means here exactly what it means to the uci tool, LuCI and procd
// scripts. WriteTo produces the canonical text that `uci commit` writes.
//
// Two consequences of libuci's model are worth knowing:
//   - An option cannot hold the empty string: libuci ignores `option x ""`
//     when loading and `uci set` with an empty value deletes the option.
//     Set(name, "") therefore deletes, and an option with an empty value is
//     not written. List items may be empty (`list x ""`).
//   - A list with no values is not written (uci deletes an empty list), so it
//     reads back as absent.
package uciconf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// File is one parsed UCI package: its sections in file order.
type File struct{ Sections []*Section }

// Section is one "config TYPE [NAME]" block.
type Section struct {
	Type    string    // e.g. "wan", "rule"
	Name    string    // "" for an anonymous section
	Options []*Option // in file order
	Line    int       // 1-based line of its "config" statement (0 when built in memory)
}

// Option is an "option" (one value) or a "list" (one or more values).
type Option struct {
	Name   string
	List   bool     // written as "list" lines
	Values []string // exactly one for an option; one or more for a list
	Line   int      // 1-based line of the statement that last (re)created it; 0 when built in memory
}

// ValidName reports whether s is a valid section or option name: [A-Za-z0-9_]+
// (libuci's uci_validate_name; names must be usable as shell variables).
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ValidType reports whether s is a valid section type. libuci's
// uci_validate_type is laxer than for names: any non-empty string of
// printable, non-space ASCII (bytes 33-126), so "wan-ext" and even "a.b" are
// accepted.
func ValidType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// ID returns the name of a named section and "@type[i]" for an anonymous one,
// where i is its 0-based index among all sections of that type, as uci counts.
// It returns "" for an anonymous section that is not in f.
func (f *File) ID(s *Section) string {
	if s.Name != "" {
		return s.Name
	}
	i := 0
	for _, x := range f.Sections {
		if x == s {
			return "@" + s.Type + "[" + strconv.Itoa(i) + "]"
		}
		if x != nil && x.Type == s.Type {
			i++
		}
	}
	return ""
}

// Section finds a section by name or by "@type[i]"; a negative i counts from
// the end and an empty type ("@[i]") counts all sections, as in uci. It
// returns nil if there is no such section.
func (f *File) Section(id string) *Section {
	if !strings.HasPrefix(id, "@") {
		for _, s := range f.Sections {
			if s != nil && id != "" && s.Name == id {
				return s
			}
		}
		return nil
	}
	open := strings.LastIndexByte(id, '[')
	if open < 0 || !strings.HasSuffix(id, "]") {
		return nil
	}
	typ := id[1:open]
	idx, err := strconv.Atoi(id[open+1 : len(id)-1])
	if err != nil {
		return nil
	}
	var matches []*Section
	for _, s := range f.Sections {
		if s != nil && (typ == "" || s.Type == typ) {
			matches = append(matches, s)
		}
	}
	if idx < 0 {
		idx += len(matches)
	}
	if idx < 0 || idx >= len(matches) {
		return nil
	}
	return matches[idx]
}

// OfType returns the sections of type typ in file order.
func (f *File) OfType(typ string) []*Section {
	var out []*Section
	for _, s := range f.Sections {
		if s != nil && s.Type == typ {
			out = append(out, s)
		}
	}
	return out
}

// Add appends a new section; name "" makes it anonymous. It fails if typ or
// name is invalid or a section with that name exists.
func (f *File) Add(typ, name string) (*Section, error) {
	if !ValidType(typ) {
		return nil, fmt.Errorf("uciconf: invalid section type %q", typ)
	}
	if name != "" {
		if !ValidName(name) {
			return nil, fmt.Errorf("uciconf: invalid section name %q", name)
		}
		if f.Section(name) != nil {
			return nil, fmt.Errorf("uciconf: section %q already exists", name)
		}
	}
	s := &Section{Type: typ, Name: name}
	f.Sections = append(f.Sections, s)
	return s, nil
}

// Remove deletes s from f; it does nothing if s is not in f.
func (f *File) Remove(s *Section) {
	f.Sections = slices.DeleteFunc(f.Sections, func(x *Section) bool { return x == s })
}

// Get returns the option or list called name.
func (s *Section) Get(name string) (*Option, bool) {
	for _, o := range s.Options {
		if o != nil && o.Name == name {
			return o, true
		}
	}
	return nil, false
}

// Set makes name a single option holding value, replacing any option or list
// of that name in its position. As with `uci set`, an empty value deletes the
// option, because libuci cannot hold an empty option. Names are checked when
// the file is written.
func (s *Section) Set(name, value string) {
	if value == "" {
		s.Delete(name)
		return
	}
	s.put(&Option{Name: name, Values: []string{value}})
}

// SetList makes name a list holding a copy of values, replacing any option or
// list of that name in its position; empty values deletes it.
func (s *Section) SetList(name string, values []string) {
	if len(values) == 0 {
		s.Delete(name)
		return
	}
	s.put(&Option{Name: name, List: true, Values: slices.Clone(values)})
}

// Delete removes the option or list called name, if present.
func (s *Section) Delete(name string) {
	s.Options = slices.DeleteFunc(s.Options, func(o *Option) bool { return o != nil && o.Name == name })
}

// put replaces the option of o's name in place, or appends o.
func (s *Section) put(o *Option) {
	for i, x := range s.Options {
		if x != nil && x.Name == o.Name {
			s.Options[i] = o
			return
		}
	}
	s.Options = append(s.Options, o)
}
