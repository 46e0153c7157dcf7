package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wanlb/wanlb/pkg/uciconf"
)

// section reads one UCI section's options, remembering which it used so
// the rest can be reported as unknown.
type section struct {
	v    *validator
	s    *uciconf.Section // nil: the section is absent, defaults apply
	id   string
	used map[string]bool
}

func (v *validator) section(s *uciconf.Section, id string) *section {
	if s != nil {
		id = v.file.ID(s)
	}
	return &section{v: v, s: s, id: id, used: map[string]bool{}}
}

// value returns a single-valued option.
func (r *section) value(name string) (string, bool) {
	r.used[name] = true
	if r.s == nil {
		return "", false
	}
	o, ok := r.s.Get(name)
	if !ok || len(o.Values) == 0 {
		return "", false
	}
	if len(o.Values) > 1 {
		r.fail(name, strings.Join(o.Values, " "), "takes one value, not a list")
		return "", false
	}
	return o.Values[0], true
}

// list returns a list option. The option form with values separated by
// spaces is accepted too, as OpenWrt's own packages do.
func (r *section) list(name string) []string {
	r.used[name] = true
	if r.s == nil {
		return nil
	}
	o, ok := r.s.Get(name)
	if !ok {
		return nil
	}
	var out []string
	for _, val := range o.Values {
		if o.List {
			if strings.TrimSpace(val) != "" {
				out = append(out, strings.TrimSpace(val))
			}
			continue
		}
		out = append(out, strings.Fields(val)...)
	}
	return out
}

func (r *section) str(name, def string) string {
	if s, ok := r.value(name); ok {
		return s
	}
	return def
}

// ParseBool reads the boolean spellings UCI users write.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "on", "true", "yes", "enabled":
		return true, true
	case "0", "off", "false", "no", "disabled":
		return false, true
	}
	return false, false
}

func (r *section) boolean(name string, def bool) bool {
	s, ok := r.value(name)
	if !ok {
		return def
	}
	b, ok := ParseBool(s)
	if !ok {
		r.fail(name, s, "must be a boolean: 0/1, on/off, true/false, yes/no")
		return def
	}
	return b
}

func (r *section) integer(name string, def, min, max int) int {
	s, ok := r.value(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		r.fail(name, s, "must be a whole number")
		return def
	}
	if n < min || n > max {
		r.fail(name, s, fmt.Sprintf("must be between %d and %d", min, max))
		return def
	}
	return n
}

// seconds reads a decimal number of seconds.
func (r *section) seconds(name string, def, min, max time.Duration) time.Duration {
	s, ok := r.value(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		r.fail(name, s, "must be a number of seconds")
		return def
	}
	d := time.Duration(f * float64(time.Second))
	if d < min || d > max {
		r.fail(name, s, fmt.Sprintf("must be between %g and %g seconds", min.Seconds(), max.Seconds()))
		return def
	}
	return d
}

func (r *section) oneOf(name, def string, allowed ...string) string {
	s, ok := r.value(name)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	r.fail(name, s, "must be one of: "+strings.Join(allowed, ", "))
	return def
}

// finish warns about options the schema does not know (a typo must not
// go unnoticed, but must not stop the router either).
func (r *section) finish() {
	if r.s == nil {
		return
	}
	for _, o := range r.s.Options {
		if !r.used[o.Name] {
			r.v.problems = append(r.v.problems, Problem{Section: r.id, Option: o.Name, Msg: "unknown option is ignored", Warning: true})
		}
	}
}
