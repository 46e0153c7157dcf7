package webui

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"github.com/labstack/echo/v5"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/uciconf"
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
	Name          string   `json:"name"`
	Label         string   `json:"label"`
	Enabled       bool     `json:"enabled"`
	Weight        int      `json:"weight"`
	Upstream      int      `json:"upstream"`
	Downstream    int      `json:"downstream"`
	Detection     string   `json:"detection"`
	Track         []string `json:"track"`
	Reliability   int      `json:"reliability"`
	Interval      float64  `json:"interval"`
	Timeout       float64  `json:"timeout"`
	Down          int      `json:"down"`
	Up            int      `json:"up"`
	MaxLatency    int      `json:"max_latency"`
	MaxLoss       int      `json:"max_loss"`
	Passive       bool     `json:"passive"`
	PassiveWindow float64  `json:"passive_window"`
}

type linkBackupJSON struct {
	ID        int      `json:"id"`
	Enabled   bool     `json:"enabled" uci:"enabled"`
	Name      string   `json:"name" uci:"name"`
	Primary   []string `json:"primary" uci:"primary"`
	Backup    []string `json:"backup" uci:"backup"`
	Mode      string   `json:"mode" uci:"mode"`
	Trigger   string   `json:"trigger" uci:"trigger"`
	Revert    bool     `json:"revert" uci:"revert"`
	Weekdays  string   `json:"weekdays" uci:"weekdays"`
	StartTime string   `json:"start_time" uci:"start_time"`
	StopTime  string   `json:"stop_time" uci:"stop_time"`
}

type ruleJSON struct {
	ID       int      `json:"id"`
	Enabled  bool     `json:"enabled" uci:"enabled"`
	Name     string   `json:"name" uci:"name"`
	Proto    string   `json:"proto" uci:"proto"`
	SrcIP    []string `json:"src_ip" uci:"src_ip"`
	DestIP   []string `json:"dest_ip" uci:"dest_ip"`
	SrcPort  string   `json:"src_port" uci:"src_port"`
	DestPort string   `json:"dest_port" uci:"dest_port"`
	WAN      []string `json:"wan" uci:"wan"`
	Fallback bool     `json:"fallback" uci:"fallback"`
}

// The shape of GET /api/config.
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

// fromConfig builds the pages' view of a validated config: what they show
// is what the daemon runs, defaults filled in.
func fromConfig(cfg *config.Config) configJSON {
	g := cfg.Globals
	out := configJSON{Globals: globalsJSON{
		Enabled: g.Enabled, LoadBalancing: g.LoadBalancing, AppOptimized: g.AppOptimized,
		BandwidthBased: g.BandwidthBased, LastResort: string(g.LastResort), FlushConntrack: g.FlushConntrack,
	}, WANs: []wanJSON{}, LinkBackups: []linkBackupJSON{}, Rules: []ruleJSON{}}
	for _, w := range cfg.WANs {
		out.WANs = append(out.WANs, wanJSON{
			Name: w.Name, Label: w.Label, Enabled: w.Enabled, Weight: w.Weight, Upstream: w.Upstream, Downstream: w.Downstream,
			Detection: string(w.Detection), Track: config.TrackText(w.Track), Reliability: w.Reliability, Interval: w.Interval.Seconds(),
			Timeout: w.Timeout.Seconds(), Down: w.Down, Up: w.Up, MaxLatency: int(w.MaxLatency.Milliseconds()), MaxLoss: w.MaxLoss,
			Passive: w.Passive, PassiveWindow: w.PassiveWindow.Seconds(),
		})
	}
	for i, b := range cfg.LinkBackups {
		trigger := "any"
		if b.TriggerAll {
			trigger = "all"
		}
		start, stop := b.Schedule.ClockTexts()
		out.LinkBackups = append(out.LinkBackups, linkBackupJSON{ID: i, Enabled: b.Enabled, Name: b.Name,
			Primary: nonNil(b.Primary), Backup: nonNil(b.Backup), Mode: string(b.Mode), Trigger: trigger, Revert: b.Revert,
			Weekdays: b.Schedule.WeekdaysText(), StartTime: start, StopTime: stop})
	}
	for i, r := range cfg.Rules {
		out.Rules = append(out.Rules, ruleJSON{ID: i, Enabled: r.Enabled, Name: r.Name, Proto: string(r.Proto),
			SrcIP: config.AddrsText(r.SrcIP), DestIP: config.AddrsText(r.DestIP), SrcPort: config.PortsText(r.SrcPort),
			DestPort: config.PortsText(r.DestPort), WAN: nonNil(r.WANs), Fallback: r.Fallback})
	}
	return out
}

// nonNil makes an empty list [] rather than null in JSON.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func (s *Server) getConfig(c *echo.Context) error {
	f, cfg, problems, err := s.store().Read()
	if err != nil {
		return err
	}
	if cfg == nil {
		return c.JSON(http.StatusConflict, map[string]any{"errors": fieldErrors(f, config.Errors(problems))})
	}
	return c.JSON(http.StatusOK, fromConfig(cfg))
}

// schemaJSON is GET /api/schema: each section type's options by name,
// with their defaults and limits, for the pages' own checks.
type schemaJSON map[string]map[string]config.Option

func (s *Server) getSchema(c *echo.Context) error {
	out := schemaJSON{}
	for _, sec := range config.Schema() {
		out[sec.Type] = map[string]config.Option{}
		for _, o := range sec.Options {
			out[sec.Type][o.Name] = o
		}
	}
	return c.JSON(http.StatusOK, out)
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
