package webui

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v5"

	"github.com/wanlb/wanlb/pkg/config"
	"github.com/wanlb/wanlb/pkg/uciconf"
)

// The JSON shapes of the config pages. Numbers are numbers, booleans are
// booleans; the server turns them into UCI text.

type globalsJSON struct {
	Enabled        bool   `json:"enabled"`
	LoadBalancing  bool   `json:"load_balancing"`
	AppOptimized   bool   `json:"app_optimized"`
	BandwidthBased bool   `json:"bandwidth_based"`
	LastResort     string `json:"last_resort"`
	FlushConntrack bool   `json:"flush_conntrack"`
}

type wanJSON struct {
	Name        string   `json:"name"`
	Label       string   `json:"label"`
	Enabled     bool     `json:"enabled"`
	Weight      int      `json:"weight"`
	Upstream    int      `json:"upstream"`
	Downstream  int      `json:"downstream"`
	Detection   string   `json:"detection"`
	Track       []string `json:"track"`
	Reliability int      `json:"reliability"`
	Interval    float64  `json:"interval"`
	Timeout     float64  `json:"timeout"`
	Down        int      `json:"down"`
	Up          int      `json:"up"`
	MaxLatency  int      `json:"max_latency"`
	MaxLoss     int      `json:"max_loss"`
}

type linkBackupJSON struct {
	ID        int      `json:"id"`
	Enabled   bool     `json:"enabled"`
	Name      string   `json:"name"`
	Primary   []string `json:"primary"`
	Backup    []string `json:"backup"`
	Mode      string   `json:"mode"`
	Trigger   string   `json:"trigger"`
	Revert    bool     `json:"revert"`
	Weekdays  string   `json:"weekdays"`
	StartTime string   `json:"start_time"`
	StopTime  string   `json:"stop_time"`
}

type ruleJSON struct {
	ID       int      `json:"id"`
	Enabled  bool     `json:"enabled"`
	Name     string   `json:"name"`
	Proto    string   `json:"proto"`
	SrcIP    []string `json:"src_ip"`
	DestIP   []string `json:"dest_ip"`
	SrcPort  string   `json:"src_port"`
	DestPort string   `json:"dest_port"`
	WAN      []string `json:"wan"`
	Fallback bool     `json:"fallback"`
}

type configJSON struct {
	Globals     globalsJSON      `json:"globals"`
	WANs        []wanJSON        `json:"wans"`
	LinkBackups []linkBackupJSON `json:"link_backups"`
	Rules       []ruleJSON       `json:"rules"`
}

// fieldError is one problem, named the way the pages name their fields.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Value   string `json:"value,omitempty"`
}

// invalid is a refused write: the error handler answers 400 with the list.
type invalid []fieldError

func (v invalid) Error() string { return fmt.Sprintf("%d problems", len(v)) }

// writeMu serializes the UI's read-modify-write of the config file (the
// file lock keeps out other writers such as the uci tool).
var writeMu sync.Mutex

func (s *Server) path() string { return filepath.Join(s.opts.ConfigDir, config.FileName) }

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (s *Server) getConfig(c *echo.Context) error {
	f, err := uciconf.ReadFile(s.path())
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	cfg, problems := config.FromUCI(f)
	if cfg == nil {
		return c.JSON(http.StatusConflict, map[string]any{"errors": fieldErrors(f, problems)})
	}
	out := configJSON{Globals: globalsJSON{
		Enabled: cfg.Globals.Enabled, LoadBalancing: cfg.Globals.LoadBalancing, AppOptimized: cfg.Globals.AppOptimized,
		BandwidthBased: cfg.Globals.BandwidthBased, LastResort: string(cfg.Globals.LastResort), FlushConntrack: cfg.Globals.FlushConntrack,
	}, WANs: []wanJSON{}, LinkBackups: []linkBackupJSON{}, Rules: []ruleJSON{}}
	for _, w := range cfg.WANs {
		track := []string{}
		for _, t := range w.Track {
			track = append(track, t.Raw)
		}
		out.WANs = append(out.WANs, wanJSON{
			Name: w.Name, Label: w.Label, Enabled: w.Enabled, Weight: w.Weight, Upstream: w.Upstream, Downstream: w.Downstream,
			Detection: string(w.Detection), Track: track, Reliability: w.Reliability, Interval: w.Interval.Seconds(),
			Timeout: w.Timeout.Seconds(), Down: w.Down, Up: w.Up, MaxLatency: int(w.MaxLatency.Milliseconds()), MaxLoss: w.MaxLoss,
		})
	}
	for i, s := range f.OfType("link_backup") {
		out.LinkBackups = append(out.LinkBackups, linkBackupJSON{ID: i, Enabled: boolOpt(s, "enabled", true), Name: strOpt(s, "name"),
			Primary: listOpt(s, "primary"), Backup: listOpt(s, "backup"), Mode: strOr(s, "mode", "failover"), Trigger: strOr(s, "trigger", "any"),
			Revert: boolOpt(s, "revert", true), Weekdays: strOpt(s, "weekdays"), StartTime: strOpt(s, "start_time"), StopTime: strOpt(s, "stop_time")})
	}
	for i, s := range f.OfType("rule") {
		out.Rules = append(out.Rules, ruleJSON{ID: i, Enabled: boolOpt(s, "enabled", true), Name: strOpt(s, "name"), Proto: strOr(s, "proto", "all"),
			SrcIP: listOpt(s, "src_ip"), DestIP: listOpt(s, "dest_ip"), SrcPort: strOpt(s, "src_port"), DestPort: strOpt(s, "dest_port"),
			WAN: listOpt(s, "wan"), Fallback: boolOpt(s, "fallback", true)})
	}
	return c.JSON(http.StatusOK, out)
}

func strOpt(s *uciconf.Section, name string) string { return strOr(s, name, "") }

func strOr(s *uciconf.Section, name, def string) string {
	if o, ok := s.Get(name); ok && len(o.Values) > 0 {
		return o.Values[len(o.Values)-1]
	}
	return def
}

func boolOpt(s *uciconf.Section, name string, def bool) bool {
	if b, ok := config.ParseBool(strOr(s, name, "")); ok {
		return b
	}
	return def
}

func listOpt(s *uciconf.Section, name string) []string {
	out := []string{}
	if o, ok := s.Get(name); ok {
		for _, v := range o.Values {
			if o.List {
				if v = strings.TrimSpace(v); v != "" {
					out = append(out, v)
				}
			} else {
				out = append(out, strings.Fields(v)...)
			}
		}
	}
	return out
}

// edit runs change on the config file, validates the result and, when it
// is valid, writes it and makes the daemon apply it. Nothing is written
// when anything is invalid.
func (s *Server) edit(c *echo.Context, change func(f *uciconf.File) error) error {
	writeMu.Lock()
	defer writeMu.Unlock()
	f, err := uciconf.ReadFile(s.path())
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if err := change(f); err != nil {
		return err
	}
	if _, problems := config.FromUCI(f); len(config.Errors(problems)) > 0 {
		return invalid(fieldErrors(f, config.Errors(problems)))
	}
	if err := uciconf.WriteFile(s.path(), f); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	applied, problems, err := s.backend.Reload(c.Request().Context())
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if !applied {
		return invalid{{Message: strings.Join(problems, "; ")}}
	}
	return nil
}

var anonRe = regexp.MustCompile(`^@(\w+)\[(\d+)\]$`)

// fieldErrors names each problem after the page field that shows it:
// "wan.weight", "link_backups[0].backup", "rules[2].dest_port".
func fieldErrors(f *uciconf.File, ps []config.Problem) []fieldError {
	out := []fieldError{}
	for _, p := range ps {
		field := p.Section
		if m := anonRe.FindStringSubmatch(p.Section); m != nil {
			field = m[1] + "s[" + m[2] + "]"
		} else if sec := f.Section(p.Section); sec != nil && (sec.Type == "rule" || sec.Type == "link_backup") {
			field = fmt.Sprintf("%ss[%d]", sec.Type, slices.Index(f.OfType(sec.Type), sec))
		}
		if p.Option != "" {
			field += "." + p.Option
		}
		out = append(out, fieldError{Field: field, Message: p.Msg, Value: p.Value})
	}
	return out
}

// write decodes the body into req (when not nil) before edit takes the
// write lock, applies change to the config file through edit, and
// answers {"ok": true}.
func (s *Server) write(c *echo.Context, req any, change func(f *uciconf.File) error) error {
	if req != nil {
		if err := readJSON(c, req); err != nil {
			return err
		}
	}
	if err := s.edit(c, change); err != nil {
		return err
	}
	return ok(c, nil)
}

func ok(c *echo.Context, extra map[string]any) error {
	body := map[string]any{"ok": true}
	for k, v := range extra {
		body[k] = v
	}
	return c.JSON(http.StatusOK, body)
}

// globals returns the globals section, creating it when the file has none.
func globals(f *uciconf.File) *uciconf.Section {
	if s := f.Section("globals"); s != nil && s.Type == "globals" {
		return s
	}
	if g := f.OfType("globals"); len(g) > 0 {
		return g[0]
	}
	s, _ := f.Add("globals", "globals")
	return s
}

func wanSection(f *uciconf.File, name string) (*uciconf.Section, error) {
	s := f.Section(name)
	if !uciconf.ValidName(name) || s == nil || s.Type != "wan" {
		return nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("no wan section '%s'", name))
	}
	return s, nil
}

// The pages send every field of these two: a missing one is refused
// rather than written as 0.
type loadBalancingJSON struct {
	LoadBalancing  bool `json:"load_balancing" wanlb:"required"`
	AppOptimized   bool `json:"app_optimized" wanlb:"required"`
	BandwidthBased bool `json:"bandwidth_based" wanlb:"required"`
	WANs           []struct {
		Name       string `json:"name" wanlb:"required"`
		Weight     int    `json:"weight" wanlb:"required"`
		Upstream   int    `json:"upstream" wanlb:"required"`
		Downstream int    `json:"downstream" wanlb:"required"`
	} `json:"wans" wanlb:"required"`
}

func (s *Server) putLoadBalancing(c *echo.Context) error {
	var req loadBalancingJSON
	return s.write(c, &req, func(f *uciconf.File) error {
		g := globals(f)
		g.Set("load_balancing", bit(req.LoadBalancing))
		g.Set("app_optimized", bit(req.AppOptimized))
		g.Set("bandwidth_based", bit(req.BandwidthBased))
		for _, w := range req.WANs {
			sec, err := wanSection(f, w.Name)
			if err != nil {
				return err
			}
			sec.Set("weight", strconv.Itoa(w.Weight))
			sec.Set("upstream", strconv.Itoa(w.Upstream))
			sec.Set("downstream", strconv.Itoa(w.Downstream))
		}
		return nil
	})
}

type onlineDetectionJSON struct {
	WANs []struct {
		Name        string   `json:"name" wanlb:"required"`
		Detection   string   `json:"detection" wanlb:"required"`
		Track       []string `json:"track" wanlb:"required"`
		Reliability int      `json:"reliability" wanlb:"required"`
		Interval    float64  `json:"interval" wanlb:"required"`
		Timeout     float64  `json:"timeout" wanlb:"required"`
		Down        int      `json:"down" wanlb:"required"`
		Up          int      `json:"up" wanlb:"required"`
		MaxLatency  int      `json:"max_latency" wanlb:"required"`
		MaxLoss     int      `json:"max_loss" wanlb:"required"`
	} `json:"wans" wanlb:"required"`
}

func (s *Server) putOnlineDetection(c *echo.Context) error {
	var req onlineDetectionJSON
	return s.write(c, &req, func(f *uciconf.File) error {
		for _, w := range req.WANs {
			sec, err := wanSection(f, w.Name)
			if err != nil {
				return err
			}
			sec.Set("detection", w.Detection)
			sec.SetList("track", w.Track)
			sec.Set("reliability", strconv.Itoa(w.Reliability))
			sec.Set("interval", num(w.Interval))
			sec.Set("timeout", num(w.Timeout))
			sec.Set("down", strconv.Itoa(w.Down))
			sec.Set("up", strconv.Itoa(w.Up))
			sec.Set("max_latency", strconv.Itoa(w.MaxLatency))
			sec.Set("max_loss", strconv.Itoa(w.MaxLoss))
		}
		return nil
	})
}

// entry is a link_backup or rule from a request body, decoded before
// the write lock is taken.
type entry interface{ fill(sec *uciconf.Section) }

// readEntry decodes a link_backup or rule body. Fields left out get the
// UCI defaults the daemon applies to a section without them (enabled,
// revert and fallback on; failover on any trigger; protocol all).
func readEntry(c *echo.Context, typ string) (entry, error) {
	var e entry
	switch typ {
	case "link_backup":
		e = &linkBackupJSON{Enabled: true, Mode: "failover", Trigger: "any", Revert: true}
	case "rule":
		e = &ruleJSON{Enabled: true, Proto: "all", Fallback: true}
	default:
		return nil, fmt.Errorf("no section type %q", typ)
	}
	if err := readJSON(c, e); err != nil {
		return nil, err
	}
	return e, nil
}

// setOrDelete writes v, or deletes the option when v is empty, as uci does.
func setOrDelete(sec *uciconf.Section, name, v string) {
	if v == "" {
		sec.Delete(name)
		return
	}
	sec.Set(name, v)
}

func (e *linkBackupJSON) fill(sec *uciconf.Section) {
	sec.Set("enabled", bit(e.Enabled))
	setOrDelete(sec, "name", e.Name)
	sec.SetList("primary", e.Primary)
	sec.SetList("backup", e.Backup)
	sec.Set("mode", e.Mode)
	sec.Set("trigger", e.Trigger)
	sec.Set("revert", bit(e.Revert))
	setOrDelete(sec, "weekdays", e.Weekdays)
	setOrDelete(sec, "start_time", e.StartTime)
	setOrDelete(sec, "stop_time", e.StopTime)
}

func (r *ruleJSON) fill(sec *uciconf.Section) {
	sec.Set("enabled", bit(r.Enabled))
	setOrDelete(sec, "name", r.Name)
	sec.Set("proto", r.Proto)
	sec.SetList("src_ip", r.SrcIP)
	sec.SetList("dest_ip", r.DestIP)
	setOrDelete(sec, "src_port", r.SrcPort)
	setOrDelete(sec, "dest_port", r.DestPort)
	sec.SetList("wan", r.WAN)
	sec.Set("fallback", bit(r.Fallback))
}

// nth returns the id-th section of typ from the :id parameter.
func nth(f *uciconf.File, typ, id string) (*uciconf.Section, int, error) {
	i, err := strconv.Atoi(id)
	list := f.OfType(typ)
	if err != nil || i < 0 || i >= len(list) {
		return nil, 0, echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("no %s %s", typ, id))
	}
	return list[i], i, nil
}

func (s *Server) addSection(typ string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		e, err := readEntry(c, typ)
		if err != nil {
			return err
		}
		var id int
		err = s.edit(c, func(f *uciconf.File) error {
			sec, err := f.Add(typ, "")
			if err != nil {
				return err
			}
			id = len(f.OfType(typ)) - 1
			e.fill(sec)
			return nil
		})
		if err != nil {
			return err
		}
		return ok(c, map[string]any{"id": id})
	}
}

func (s *Server) editSection(typ string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		e, err := readEntry(c, typ)
		if err != nil {
			return err
		}
		return s.write(c, nil, func(f *uciconf.File) error {
			sec, _, err := nth(f, typ, c.Param("id"))
			if err != nil {
				return err
			}
			e.fill(sec)
			return nil
		})
	}
}

func (s *Server) deleteSection(typ string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		return s.write(c, nil, func(f *uciconf.File) error {
			sec, _, err := nth(f, typ, c.Param("id"))
			if err != nil {
				return err
			}
			f.Remove(sec)
			return nil
		})
	}
}

// moveRule changes a rule's place in the order; rules are tried in file
// order, so this changes which rule wins.
func (s *Server) moveRule(c *echo.Context) error {
	var req struct {
		To int `json:"to" wanlb:"required"`
	}
	return s.write(c, &req, func(f *uciconf.File) error {
		sec, from, err := nth(f, "rule", c.Param("id"))
		if err != nil {
			return err
		}
		rules := f.OfType("rule")
		if req.To < 0 || req.To >= len(rules) {
			return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("to must be between 0 and %d", len(rules)-1))
		}
		rules = slices.Delete(rules, from, from+1)
		rules = slices.Insert(rules, req.To, sec)
		// Put the rules back into the places rules held, in the new order.
		k := 0
		for i, x := range f.Sections {
			if x.Type == "rule" {
				f.Sections[i] = rules[k]
				k++
			}
		}
		return nil
	})
}
