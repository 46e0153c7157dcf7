package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wanlb/wanlb/internal/uciconf"
)

// section reads one UCI section's options, remembering which it used so
// the rest can be reported as unknown.
type section struct {
	v    *validator
	s    *uciconf.Section // nil: the section is absent, defaults apply
	id   string
	typ  string // section type: the schema's options apply
	used map[string]bool
}

func (v *validator) section(s *uciconf.Section, id string) *section {
	typ := id // an absent section is one of the singletons, named after its type
	if s != nil {
		id, typ = v.file.ID(s), s.Type
	}
	return &section{v: v, s: s, id: id, typ: typ, used: map[string]bool{}}
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

// spec returns the schema's declaration of an option of this section.
func (r *section) spec(name string) Option { return mustSpec(r.typ, name) }

// str returns a string option, or its default.
func (r *section) str(name string) string {
	if s, ok := r.value(name); ok {
		return s
	}
	return r.spec(name).Default
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

func (r *section) boolean(name string) bool {
	def, _ := ParseBool(r.spec(name).Default)
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

// integer reads a whole number within the schema's limits.
func (r *section) integer(name string) int {
	o := r.spec(name)
	def, _ := strconv.Atoi(o.Default)
	min, max := int(o.Min), int(o.Max)
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
func (r *section) seconds(name string) time.Duration {
	o := r.spec(name)
	f, _ := strconv.ParseFloat(o.Default, 64)
	def, min, max := secondsOf(f), secondsOf(o.Min), secondsOf(o.Max)
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

func (r *section) oneOf(name string) string {
	o := r.spec(name)
	def, allowed := o.Default, o.Values
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

// secondsOf turns the schema's seconds into a Duration, rounded to the
// nanosecond so that 0.2 s is exactly MinInterval.
func secondsOf(f float64) time.Duration { return time.Duration(math.Round(f * float64(time.Second))) }
