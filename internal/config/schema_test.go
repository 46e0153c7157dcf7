package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// base is the least a valid config needs besides the section under test.
const base = "config wan 'wan'\nconfig wan 'wan2'\n"

// required are options a section cannot do without; they are the same in
// both files a test compares.
var required = map[string]string{
	"link_backup": "\toption primary 'wan'\n\toption backup 'wan2'\n",
	"rule":        "\toption wan 'wan'\n",
}

func sectionText(typ string, opts string) string {
	name := ""
	switch typ {
	case "globals", "ui":
		name = " '" + typ + "'"
	case "wan":
		name = " 'wan3'"
	}
	return base + "config " + typ + name + "\n" + required[typ] + opts
}

// TestSchemaDefaults: writing every option with its declared default gives
// the same Config as leaving it out, without a problem or an "unknown
// option" warning. So the validator reads every declared option, and the
// declared default is the one it applies.
func TestSchemaDefaults(t *testing.T) {
	for _, sec := range Schema() {
		t.Run(sec.Type, func(t *testing.T) {
			var opts strings.Builder
			for _, o := range sec.Options {
				if o.Default == "" || required[sec.Type] != "" && strings.Contains(required[sec.Type], " "+o.Name+" ") {
					continue
				}
				fmt.Fprintf(&opts, "\toption %s '%s'\n", o.Name, o.Default)
			}
			explicit, ps := parse(t, sectionText(sec.Type, opts.String()))
			if len(ps) > 0 || explicit == nil {
				t.Fatalf("problems with every option at its default:\n%s", lines(ps))
			}
			implicit, ps := parse(t, sectionText(sec.Type, ""))
			if implicit == nil {
				t.Fatalf("problems: %s", lines(ps))
			}
			if !reflect.DeepEqual(explicit, implicit) {
				t.Errorf("explicit defaults differ from missing options:\n%+v\n%+v", explicit, implicit)
			}
		})
	}
}

// TestSchemaLimits: the validator refuses a value just past each declared
// limit, with the declared limits in the message, and takes the limits
// themselves.
func TestSchemaLimits(t *testing.T) {
	n := 0
	for _, sec := range Schema() {
		for _, o := range sec.Options {
			if o.Kind != KindInt && o.Kind != KindSeconds {
				continue
			}
			n++
			step := 1.0
			if o.Kind == KindSeconds {
				step = 0.001
			}
			f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
			for _, v := range []float64{o.Min - step, o.Max + step} {
				_, ps := parse(t, sectionText(sec.Type, fmt.Sprintf("\toption %s '%s'\n", o.Name, f(v))))
				want := fmt.Sprintf("must be between %s and %s", f(o.Min), f(o.Max))
				if !strings.Contains(lines(ps), "."+o.Name+": "+want) {
					t.Errorf("%s.%s = %s: want %q, got:\n%s", sec.Type, o.Name, f(v), want, lines(ps))
				}
			}
			for _, v := range []float64{o.Min, o.Max} {
				if c, ps := parse(t, sectionText(sec.Type, fmt.Sprintf("\toption %s '%s'\n", o.Name, f(v)))); c == nil {
					t.Errorf("%s.%s = %s refused: %s", sec.Type, o.Name, f(v), lines(ps))
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d options with limits in the schema", n)
	}
}

// TestSchemaEnums: every declared value is taken, anything else refused
// with the declared list.
func TestSchemaEnums(t *testing.T) {
	for _, sec := range Schema() {
		for _, o := range sec.Options {
			if o.Kind != KindEnum {
				continue
			}
			for _, v := range o.Values {
				extra := ""
				if sec.Type == "wan" && v == "manual" {
					extra = "\toption track '198.18.0.1'\n"
				}
				if sec.Type == "ui" && v == "password" {
					extra = "\toption password_hash '$6$x$y'\n"
				}
				if c, ps := parse(t, sectionText(sec.Type, fmt.Sprintf("\toption %s '%s'\n", o.Name, v)+extra)); c == nil {
					t.Errorf("%s.%s = %s refused: %s", sec.Type, o.Name, v, lines(ps))
				}
			}
			_, ps := parse(t, sectionText(sec.Type, fmt.Sprintf("\toption %s 'bogus'\n", o.Name)))
			want := "." + o.Name + ": must be one of: " + strings.Join(o.Values, ", ") + " (got 'bogus')"
			if !strings.Contains(lines(ps), want) {
				t.Errorf("want %q, got:\n%s", want, lines(ps))
			}
		}
	}
}
