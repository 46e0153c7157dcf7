package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/linkmon"
	"github.com/wanlb/wanlb/internal/tracker"
)

// The running config: loaded at start and on every reload; a config with
// errors is refused and the last good one keeps running.

func (d *Daemon) logProblems(ps []config.Problem) {
	for _, p := range ps {
		if p.Warning {
			d.log.Warn(p.String())
		} else {
			d.log.Error(p.String())
		}
	}
}

var levels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// setConfig makes c the running config, keeping each WAN's tracker (and so
// its state) when the WAN still exists.
func (d *Daemon) setConfig(ctx context.Context, c *config.Config, problems []config.Problem) {
	d.cfg, d.problems = c, problems
	if d.opts.Level != nil {
		d.opts.Level.Set(levels[c.Globals.LogLevel])
	}
	if d.links == nil {
		d.links = map[string]linkmon.Link{}
	}
	// netifd first: a new WAN's tracker starts from its real link state.
	d.refreshNetifd(ctx, "")
	old := d.trackers
	d.trackers = map[string]*tracker.Tracker{}
	now := d.clock.Now()
	for i := range c.WANs {
		w := &c.WANs[i]
		if t, ok := old[w.Name]; ok {
			t.Reconfigure(tracker.SettingsFrom(w))
			t.SetEnabled(w.Enabled, now)
			d.trackers[w.Name] = t
			continue
		}
		// A WAN starts online when its link is up: traffic keeps its
		// shape across a restart (a backup stays on standby) and probes
		// take a dead WAN down within down x interval + timeout.
		initial := tracker.Online
		if !w.Enabled {
			initial = tracker.Disabled
		}
		t := tracker.New(tracker.SettingsFrom(w), initial, now)
		if dev := d.device(w); dev != "" {
			d.links[dev] = d.kernel.Links.Get(dev)
		}
		t.Carrier(d.carrier(w), now)
		d.trackers[w.Name] = t
	}
}

// reload re-reads the config; a refused one leaves everything running as
// it was and says why.
func (d *Daemon) reload(ctx context.Context) ReloadResult {
	c, problems, err := config.Load(d.opts.ConfigDir)
	if err == nil && c == nil {
		err = fmt.Errorf("%d problems", len(config.Errors(problems)))
	}
	d.logProblems(problems)
	var res ReloadResult
	for _, p := range problems {
		res.Problems = append(res.Problems, p.String())
	}
	if err != nil {
		d.log.Error("reload refused, keeping the running config: " + err.Error())
		d.problems = problems
		if len(res.Problems) == 0 {
			res.Problems = []string{err.Error()}
		}
		return res
	}
	d.setConfig(ctx, c, problems)
	d.replan("reload")
	d.restartProbers(ctx)
	d.startUI(ctx)
	res.Applied = true
	return res
}
