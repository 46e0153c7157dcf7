package config

import (
	"fmt"
	"strings"

	"github.com/wanlb/wanlb/internal/uciconf"
)

// Problem is one thing wrong with the config. Warnings do not stop the
// config from being used; errors do.
type Problem struct {
	Section string // UCI section id: name or @type[i]; "" for the file
	Option  string
	Msg     string
	Value   string
	HasVal  bool
	Warning bool
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(FileName)
	if p.Section != "" {
		b.WriteString("." + p.Section)
	}
	if p.Option != "" {
		b.WriteString("." + p.Option)
	}
	b.WriteString(": ")
	if p.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Msg)
	if p.HasVal {
		fmt.Fprintf(&b, " (got '%s')", p.Value)
	}
	return b.String()
}

// Errors returns the problems that are not warnings.
func Errors(ps []Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

func (v *validator) sectionWarn(s *uciconf.Section, msg string) {
	v.problems = append(v.problems, Problem{Section: v.file.ID(s), Msg: msg, Warning: true})
}

func (r *section) fail(opt, val, msg string) {
	r.v.problems = append(r.v.problems, Problem{Section: r.id, Option: opt, Msg: msg, Value: val, HasVal: true})
}

func (r *section) failNoValue(opt, msg string) {
	r.v.problems = append(r.v.problems, Problem{Section: r.id, Option: opt, Msg: msg})
}

func (r *section) warn(opt, val, msg string) {
	r.v.problems = append(r.v.problems, Problem{Section: r.id, Option: opt, Msg: msg, Value: val, HasVal: true, Warning: true})
}
