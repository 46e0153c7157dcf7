// Package daemon runs wanlb: one goroutine owns all state (config,
// per-WAN trackers, the current plan, the data plane); probers, the link
// monitor, timers and signals only send it messages. Every change that
// matters yields a new Plan, applied atomically; a WAN that goes offline
// has its connections deleted from conntrack (its mark only) so they move
// to a working WAN at once.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wanlb/wanlb/pkg/config"
	"github.com/wanlb/wanlb/pkg/dataplane"
	"github.com/wanlb/wanlb/pkg/linkmon"
	"github.com/wanlb/wanlb/pkg/plan"
	"github.com/wanlb/wanlb/pkg/probe"
	"github.com/wanlb/wanlb/pkg/tracker"
)

// Options configure a Daemon.
type Options struct {
	ConfigDir string
	RunDir    string
	Log       *slog.Logger
	Level     *slog.LevelVar // set from the config's log_level
}

// Kernel is what the daemon needs from the kernel.
type Kernel struct {
	DataPlane *dataplane.DataPlane
	Conntrack dataplane.Conntrack
}

// Daemon is the running service.
type Daemon struct {
	opts   Options
	kernel Kernel
	log    *slog.Logger

	events chan any

	// Owned by the Run goroutine.
	cfg      *config.Config
	problems []config.Problem
	trackers map[string]*tracker.Tracker
	links    map[string]linkmon.Link
	prev     *plan.Plan
	probers  context.CancelFunc
	proberWG sync.WaitGroup
	gen      int // prober generation; rounds of older ones are dropped
	schedule *time.Timer
	hooks    sync.WaitGroup
	// applyFailed makes the state goroutine retry the apply every second:
	// the kernel may refuse for a moment (xtables lock, a device renamed).
	applyFailed bool
}

// Messages to the state goroutine.
type (
	roundDone struct {
		wan   string
		gen   int
		round tracker.Round
	}
	reloadMsg   struct{}
	scheduleMsg struct{}
)

// New returns a daemon; Run starts it.
func New(opts Options, k Kernel) *Daemon {
	return &Daemon{opts: opts, kernel: k, log: opts.Log, events: make(chan any, 64)}
}

// Reload asks the daemon to re-read its config (SIGHUP).
func (d *Daemon) Reload() {
	d.events <- reloadMsg{}
}

// Run loads the config and runs until ctx ends, then removes every piece
// of kernel state wanlb added. A config that is invalid at start is an
// error; later, an invalid config is reported and the last good one kept.
func (d *Daemon) Run(ctx context.Context) error {
	c, problems, err := config.Load(d.opts.ConfigDir)
	if err != nil {
		return err
	}
	d.logProblems(problems)
	if c == nil {
		return fmt.Errorf("config has %d problems", len(config.Errors(problems)))
	}
	d.setConfig(c, problems)

	linkCtx, stopLinks := context.WithCancel(ctx)
	linkEvents := make(chan linkmon.Link, 16)
	go linkmon.Watch(linkCtx, linkEvents)
	defer stopLinks()

	d.replan("start")
	d.restartProbers(ctx)
	statusTick := time.NewTicker(time.Second)
	defer statusTick.Stop()
	for {
		var scheduleC <-chan time.Time
		if d.schedule != nil {
			scheduleC = d.schedule.C
		}
		select {
		case <-ctx.Done():
			return d.stop()
		case l := <-linkEvents:
			d.onLink(l)
		case <-scheduleC:
			d.schedule = nil
			d.replan("effective time boundary")
		case <-statusTick.C:
			if d.applyFailed {
				d.replan("retry")
			}
			d.writeStatus()
		case m := <-d.events:
			switch m := m.(type) {
			case roundDone:
				d.onRound(m)
			case reloadMsg:
				d.reload(ctx)
			}
		}
	}
}

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
func (d *Daemon) setConfig(c *config.Config, problems []config.Problem) {
	d.cfg, d.problems = c, problems
	if d.opts.Level != nil {
		d.opts.Level.Set(levels[c.Globals.LogLevel])
	}
	old := d.trackers
	d.trackers = map[string]*tracker.Tracker{}
	if d.links == nil {
		d.links = map[string]linkmon.Link{}
	}
	now := time.Now()
	for i := range c.WANs {
		w := &c.WANs[i]
		if t, ok := old[w.Name]; ok {
			t.Reconfigure(tracker.SettingsFrom(w))
			t.SetEnabled(w.Enabled, now)
			d.trackers[w.Name] = t
			continue
		}
		initial := tracker.Connecting
		if !w.Enabled {
			initial = tracker.Disabled
		}
		t := tracker.New(tracker.SettingsFrom(w), initial, now)
		if w.Device != "" {
			l := linkmon.Get(w.Device)
			d.links[w.Device] = l
			t.Carrier(l.Carrier, now)
		}
		d.trackers[w.Name] = t
	}
}

func (d *Daemon) reload(ctx context.Context) {
	c, problems, err := config.Load(d.opts.ConfigDir)
	if err == nil && c == nil {
		err = fmt.Errorf("%d problems", len(config.Errors(problems)))
	}
	if err != nil {
		d.logProblems(problems)
		d.log.Error("reload refused, keeping the running config: " + err.Error())
		d.problems = problems
		d.writeStatus()
		return
	}
	d.logProblems(problems)
	d.setConfig(c, problems)
	d.replan("reload")
	d.restartProbers(ctx)
}

func (d *Daemon) onLink(l linkmon.Link) {
	prev, known := d.links[l.Device]
	d.links[l.Device] = l
	if known && prev.Carrier == l.Carrier {
		return
	}
	now := time.Now()
	changed := false
	for _, w := range d.cfg.WANs {
		if w.Device != l.Device {
			continue
		}
		if ch, ok := d.trackers[w.Name].Carrier(l.Carrier, now); ok {
			d.logChange(w.Name, ch)
			changed = true
		}
	}
	if changed {
		d.replan("carrier " + l.Device)
	}
}

func (d *Daemon) onRound(m roundDone) {
	if m.gen != d.gen {
		return
	}
	t, ok := d.trackers[m.wan]
	if !ok {
		return
	}
	if ch, ok := t.Round(m.round); ok {
		d.logChange(m.wan, ch)
		d.replan(m.wan + " " + string(ch.To))
	}
}

func (d *Daemon) logChange(wan string, ch tracker.Change) {
	d.log.Info(fmt.Sprintf("%s %s after %s", wan, ch.To, ch.Reason))
	var action string
	switch ch.To {
	case tracker.Online:
		action = "online"
	case tracker.Offline:
		action = "offline"
	default:
		return
	}
	w, _ := d.cfg.WAN(wan)
	d.runHook(action, wan, w.Device)
}

// states is the plan's view of every WAN now.
func (d *Daemon) states() map[string]plan.WANState {
	out := map[string]plan.WANState{}
	for _, w := range d.cfg.WANs {
		if w.Device == "" {
			continue
		}
		t := d.trackers[w.Name]
		out[w.Name] = plan.WANState{
			Device:  w.Device,
			Gateway: w.Gateway,
			Carrier: d.links[w.Device].Carrier,
			Online:  t.Usable(),
		}
	}
	return out
}

// replan computes and applies the plan, then deletes the connections of
// WANs that stopped being usable.
func (d *Daemon) replan(why string) {
	now := time.Now()
	p := plan.Compute(plan.Input{Config: d.cfg, States: d.states(), Prev: d.prev, Now: now})
	start := time.Now()
	res, err := d.kernel.DataPlane.Apply(p)
	d.applyFailed = err != nil
	if err != nil {
		// Keep the plan anyway: probers need its marks, and the retry
		// computes a fresh one.
		d.log.Error("apply failed, retrying: " + err.Error())
		d.prev = p
		d.writeStatus()
		return
	}
	if res.Changed() {
		d.log.Info(fmt.Sprintf("applied (%s) in %s; %s", why, time.Since(start).Round(time.Millisecond), shares(p)))
	}
	if d.cfg.Globals.FlushConntrack && d.prev != nil && d.kernel.Conntrack != nil {
		for _, old := range d.prev.WANs {
			now, ok := p.WAN(old.Name)
			if old.Usable && (!ok || !now.Usable) {
				mark, mask := dataplane.WANMark(old.Mark, p.MarkMask)
				if err := d.kernel.Conntrack.DeleteMarked(mark, mask); err != nil {
					d.log.Warn(err.Error())
				} else {
					d.log.Info(fmt.Sprintf("%s: deleted its conntrack entries (mark %#x)", old.Name, mark))
				}
			}
		}
	}
	d.prev = p
	d.armSchedule(now)
	d.writeStatus()
}

func shares(p *plan.Plan) string {
	if p.Default.Action != plan.Balance {
		return "no WAN usable: " + p.Default.Action.String()
	}
	var parts []string
	for _, m := range p.Default.Members {
		parts = append(parts, fmt.Sprintf("%s %.2f", m.WAN, m.Share))
	}
	return "shares " + strings.Join(parts, ", ")
}

// armSchedule sets a timer for the next effective-time boundary of any
// link backup entry.
func (d *Daemon) armSchedule(now time.Time) {
	if d.schedule != nil {
		d.schedule.Stop()
		d.schedule = nil
	}
	var next time.Time
	for _, e := range d.cfg.LinkBackups {
		if !e.Enabled {
			continue
		}
		if t, ok := e.Schedule.NextChange(now); ok && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if !next.IsZero() {
		d.schedule = time.NewTimer(time.Until(next))
	}
}

// restartProbers stops every prober and starts one per probed WAN with
// the current marks and settings.
func (d *Daemon) restartProbers(ctx context.Context) {
	if d.probers != nil {
		d.probers()
	}
	d.gen++
	pctx, cancel := context.WithCancel(ctx)
	d.probers = cancel
	for _, w := range d.cfg.WANs {
		pw, ok := d.prev.WAN(w.Name)
		if !w.Enabled || !ok || w.Detection == config.DetectAlwaysOnline {
			continue
		}
		targets := w.Track
		if w.Detection == config.DetectAuto {
			targets = probe.AutoTargets()
		}
		mark, _ := dataplane.WANMark(pw.Mark, d.prev.MarkMask)
		via := probe.Via{Mark: mark, Device: pw.Device}
		d.proberWG.Add(1)
		go d.prober(pctx, w.Name, d.gen, via, targets, w.Interval, w.Timeout)
	}
}

// prober starts a round every interval. Rounds run on their own, so a
// round waiting out its timeout never delays the next one: that keeps the
// worst-case detection at down x interval + timeout even when timeout is
// longer than interval.
func (d *Daemon) prober(ctx context.Context, wan string, gen int, via probe.Via, targets []config.Target, interval, timeout time.Duration) {
	defer d.proberWG.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		d.proberWG.Add(1)
		go d.round(ctx, wan, gen, via, targets, timeout)
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// round probes every target at once and reports to the state goroutine
// when all have answered or the timeout has passed, whichever is first: a
// probe that overruns its deadline (pro-bing's receive loop can, by up to
// 0.1 s) counts as failed, so detection keeps its bound.
func (d *Daemon) round(ctx context.Context, wan string, gen int, via probe.Via, targets []config.Target, timeout time.Duration) {
	defer d.proberWG.Done()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type answer struct {
		i int
		r probe.Result
	}
	answers := make(chan answer, len(targets))
	for i, t := range targets {
		go func() { answers <- answer{i, probeTwice(rctx, via, t, timeout)} }()
	}
	results := make([]tracker.Result, len(targets))
collect:
	for range targets {
		select {
		case a := <-answers:
			results[a.i] = tracker.Result{OK: a.r.OK, RTT: a.r.RTT}
			if !a.r.OK && a.r.Err != nil {
				d.log.Debug(fmt.Sprintf("%s probe %s: %v", wan, targets[a.i].Raw, a.r.Err))
			}
		case <-rctx.Done():
			break collect
		}
	}
	if ctx.Err() != nil {
		return
	}
	select {
	case d.events <- roundDone{wan: wan, gen: gen, round: tracker.Round{At: time.Now(), Results: results}}:
	case <-ctx.Done():
	}
}

// probeTwice gives a target a second chance within its round: when no
// answer came by half the timeout, or the first probe failed early, a
// second probe goes out. One lost packet then does not fail the target, so
// a line with 10% loss keeps every round good, while a dead line still fails
// every round by the same deadline.
func probeTwice(ctx context.Context, via probe.Via, t config.Target, timeout time.Duration) probe.Result {
	results := make(chan probe.Result, 2)
	send := func() { results <- probe.Probe(ctx, via, t) }
	go send()
	second := time.NewTimer(timeout / 2)
	defer second.Stop()
	pending, sent := 1, 1
	var last probe.Result
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			if r.OK {
				return r
			}
			last = r
			if sent == 1 && ctx.Err() == nil {
				sent, pending = 2, pending+1
				go send()
			}
		case <-second.C:
			if sent == 1 {
				sent, pending = 2, pending+1
				go send()
			}
		}
	}
	return last
}

// stop removes wanlb's kernel state on a clean shutdown.
func (d *Daemon) stop() error {
	if d.probers != nil {
		d.probers()
	}
	d.proberWG.Wait()
	d.hooks.Wait()
	os.Remove(statusPath(d.opts.RunDir))
	if err := d.kernel.DataPlane.Flush(); err != nil {
		return fmt.Errorf("flush on stop: %w", err)
	}
	d.log.Info("stopped; kernel state removed")
	return nil
}

// ErrNotRunning is returned by ReadStatus when no daemon is running.
var ErrNotRunning = errors.New("wanlb daemon is not running")
