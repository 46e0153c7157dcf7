package dataplane

import (
	"bytes"
	"strings"
)

// lineBuffer collects a firewall transaction line by line, each line from
// its words (kube-proxy's LineBuffer): both backends write their rules
// through it, so quoting and spacing happen in one place and a rule is a
// list of arguments until it is written.
type lineBuffer struct{ b bytes.Buffer }

// Line writes words joined by single spaces, skipping empty ones, and a
// newline.
func (l *lineBuffer) Line(words ...string) {
	first := true
	for _, w := range words {
		if w == "" {
			continue
		}
		if !first {
			l.b.WriteByte(' ')
		}
		l.b.WriteString(w)
		first = false
	}
	l.b.WriteByte('\n')
}

// Indent writes one line indented by depth tabs.
func (l *lineBuffer) Indent(depth int, words ...string) {
	l.b.WriteString(strings.Repeat("\t", depth))
	l.Line(words...)
}

// Bytes is everything written so far.
func (l *lineBuffer) Bytes() []byte { return l.b.Bytes() }
