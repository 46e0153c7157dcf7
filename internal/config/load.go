package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/wanlb/wanlb/internal/mark"
	"github.com/wanlb/wanlb/internal/uciconf"
)

// FileName is the UCI config name, the file in the config directory.
const FileName = "wanlb"

// Load reads <dir>/wanlb. The error is for a file that cannot be read or
// parsed; problems with values come back as Problems, and the Config is
// nil when any of them is an error.
func Load(dir string) (*Config, []Problem, error) {
	path := filepath.Join(dir, FileName)
	f, err := uciconf.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("no config: %w", err)
		}
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	c, ps := FromUCI(f)
	return c, ps, nil
}

// Limits of the schema, shared with the web UI's client-side checks.
const (
	MaxWeight    = 100
	MaxBandwidth = 9999999 // kbit/s, Omada's limit
	MinInterval  = 200 * time.Millisecond
	MaxInterval  = time.Hour
	MaxTimeout   = time.Minute
	MaxRounds    = 100
	MaxLatencyMs = 60000
)

var (
	// ifnameRe is stricter than Linux (which allows almost any byte):
	// device names end up in iptables rules, so only what OpenWrt uses.
	ifnameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$`)
	hostRe   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)
)

// ValidDevice reports whether s is a network device name wanlb accepts.
func ValidDevice(s string) bool { return ifnameRe.MatchString(s) }

// FromUCI validates a parsed file and builds the Config.
func FromUCI(f *uciconf.File) (*Config, []Problem) {
	v := &validator{file: f}
	c := &Config{}
	var globals, ui *uciconf.Section
	for _, s := range f.Sections {
		switch s.Type {
		case "globals":
			if globals != nil {
				v.sectionWarn(s, "more than one globals section; the first one is used")
				continue
			}
			globals = s
		case "ui":
			if ui != nil {
				v.sectionWarn(s, "more than one ui section; the first one is used")
				continue
			}
			ui = s
		case "wan", "link_backup", "rule":
		default:
			v.sectionWarn(s, fmt.Sprintf("unknown section type '%s' is ignored", s.Type))
		}
	}
	c.Globals = v.globals(globals)
	c.UI = v.ui(ui)
	for _, s := range f.OfType("wan") {
		if w, ok := v.wan(s); ok {
			c.WANs = append(c.WANs, w)
		}
	}
	names := map[string]bool{}
	for _, w := range c.WANs {
		names[w.Name] = true
	}
	for _, s := range f.OfType("link_backup") {
		c.LinkBackups = append(c.LinkBackups, v.linkBackup(s, names))
	}
	for _, s := range f.OfType("rule") {
		c.Rules = append(c.Rules, v.rule(s, names))
	}
	v.crossChecks(c)
	if len(Errors(v.problems)) > 0 {
		return nil, v.problems
	}
	return c, v.problems
}

type validator struct {
	file     *uciconf.File
	problems []Problem
}

func (v *validator) globals(s *uciconf.Section) Globals {
	r := v.section(s, "globals")
	defer r.finish()
	g := Globals{
		Enabled:        r.boolean("enabled"),
		LoadBalancing:  r.boolean("load_balancing"),
		AppOptimized:   r.boolean("app_optimized"),
		BandwidthBased: r.boolean("bandwidth_based"),
		LastResort:     LastResort(r.oneOf("last_resort")),
		FlushConntrack: r.boolean("flush_conntrack"),
		MarkMask:       mark.Default,
		Backend:        r.oneOf("backend"),
		IPv6Mode:       IPv6Mode(r.oneOf("ipv6_mode")),
		Hook:           r.str("hook"),
		LogLevel:       r.oneOf("log_level"),
	}
	if m, ok := r.value("mark_mask"); ok {
		if mask, err := mark.Parse(m); err != nil {
			r.fail("mark_mask", m, err.Error())
		} else {
			g.MarkMask = mask
		}
	}
	if g.Hook != "" && !filepath.IsAbs(g.Hook) {
		r.fail("hook", g.Hook, "must be an absolute path")
	}
	return g
}

// crossChecks finds problems that span sections.
func (v *validator) crossChecks(c *Config) {
	if c.Globals.BandwidthBased {
		for _, w := range c.WANs {
			if w.Enabled && w.Downstream == 0 {
				v.problems = append(v.problems, Problem{Section: w.Name, Option: "downstream",
					Msg: "must be set when bandwidth_based is on (shares follow each WAN's downstream)", Value: "0", HasVal: true})
			}
		}
	}
	// Two values of the mask are reserved (blackhole, unreachable).
	if maxWANs := c.Globals.MarkMask.MaxWANs(); len(c.WANs) > maxWANs {
		v.problems = append(v.problems, Problem{Section: "globals", Option: "mark_mask",
			Msg:   fmt.Sprintf("has room for %d WANs, the config has %d", maxWANs, len(c.WANs)),
			Value: c.Globals.MarkMask.String(), HasVal: true})
	}
	devices := map[string]string{}
	for _, w := range c.WANs {
		if w.Device == "" || !w.Enabled {
			continue
		}
		if other, ok := devices[w.Device]; ok {
			v.problems = append(v.problems, Problem{Section: w.Name, Option: "device",
				Msg: "is also the device of wan '" + other + "'", Value: w.Device, HasVal: true})
		}
		devices[w.Device] = w.Name
	}
}
