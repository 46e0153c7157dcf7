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
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wanlb/wanlb/pkg/config"
	"github.com/wanlb/wanlb/pkg/dataplane"
	"github.com/wanlb/wanlb/pkg/linkmon"
	"github.com/wanlb/wanlb/pkg/netifd"
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
	// UbusSocket is ubusd's socket, where rpcd checks the web UI's router
	// logins (auth 'system'); "" means OpenWrt's default.
	UbusSocket string
}

// Kernel is what the daemon needs from the system.
type Kernel struct {
	DataPlane DataPlane
	Conntrack dataplane.Conntrack // nil: offline WANs keep their connections
	// Netifd looks up a logical interface, for WANs whose device or
	// gateway the config leaves to netifd. nil: the config must name them.
	Netifd func(ctx context.Context, name string) (netifd.Interface, error)
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
	links    map[string]linkmon.Link     // by device
	ifaces   map[string]netifd.Interface // by WAN name, from netifd
	prev     *plan.Plan                  // the last computed plan
	adopted  map[string]uint32           // mark indexes by WAN name a previous run left in the kernel
	applied  *plan.Plan                  // the last plan the kernel accepted
	desired  *dataplane.Desired          // of the last successful apply, for the repair check
	probers  context.CancelFunc
	proberWG sync.WaitGroup
	gen      int // prober generation; rounds of older ones are dropped
	schedule *time.Timer
	hooks    sync.WaitGroup
	// hookCtx ends with the daemon: stop kills the hooks still running.
	hookCtx   context.Context
	stopHooks context.CancelFunc
	// applyFailed makes the state goroutine retry the apply every second:
	// the kernel may refuse for a moment (xtables lock, a device renamed).
	applyFailed bool
	// savedEngaged is what the state file holds (engagedSaved: written).
	savedEngaged []string
	engagedSaved bool

	changes map[string][]StateChange // by WAN, the last MaxChanges
	// Counters for /metrics.
	stateChanges, probes, probesOK map[string]int
	applies, applyFailures         int
	applyTime                      time.Duration
	history                        map[string][]Sample // by WAN, the last HistoryLength samples
	counters                       map[string]counters // last rx/tx byte counters, by WAN
	ui                             atomic.Pointer[config.UI]
	uiServers                      []*http.Server
	uiListeners                    []net.Addr
	uiAddrs                        []string
}

// Messages to the state goroutine.
type (
	roundDone struct {
		wan   string
		gen   int
		round tracker.Round
	}
	reloadMsg struct{}
)

// Intervals of the state goroutine's own checks.
const (
	// RepairInterval: how often the kernel state is checked for someone
	// else having removed it (firewall restart), as a safety net: the
	// nftables backend also checks on every foreign commit. nftables: one
	// netlink request; iptables: one process.
	RepairInterval = 3 * time.Second
	// NetifdInterval: how often netifd is asked again, in case a hotplug
	// event was missed (DHCP gateway changes come as ifupdate).
	NetifdInterval = 30 * time.Second
)

// New returns a daemon; Run starts it.
func New(opts Options, k Kernel) *Daemon {
	return &Daemon{opts: opts, kernel: k, log: opts.Log, events: make(chan any, 64)}
}

// Reload asks the daemon to re-read its config (SIGHUP). When the queue is
// full a reload is dropped: the ones queued will read the same file.
func (d *Daemon) Reload() {
	select {
	case d.events <- reloadMsg{}:
	default:
	}
}

// Run loads the config and runs until ctx ends, then removes every piece
// of kernel state wanlb added. A config that is invalid at start is an
// error; later, an invalid config is reported and the last good one kept.
func (d *Daemon) Run(ctx context.Context) error {
	ln, err := d.listen()
	if err != nil {
		return err
	}
	srv := d.controlServer()
	go srv.Serve(ln)
	defer func() {
		srv.Close()
		os.Remove(filepath.Join(d.opts.RunDir, SocketName))
	}()

	c, problems, err := config.Load(d.opts.ConfigDir)
	if err != nil {
		return err
	}
	d.logProblems(problems)
	if c == nil {
		return fmt.Errorf("config has %d problems", len(config.Errors(problems)))
	}
	d.setConfig(ctx, c, problems)
	d.adopt()
	d.resumeEngaged()

	linkCtx, stopLinks := context.WithCancel(ctx)
	linkEvents := make(chan linkmon.Link, 16)
	go linkmon.Watch(linkCtx, linkEvents)
	defer stopLinks()

	d.replan("start")
	d.restartProbers(ctx)
	d.startUI(ctx)
	d.sample(time.Now())
	sampleTick := time.NewTicker(HistoryInterval)
	defer sampleTick.Stop()
	retryTick := time.NewTicker(time.Second)
	defer retryTick.Stop()
	repairTick := time.NewTicker(RepairInterval)
	defer repairTick.Stop()
	netifdTick := time.NewTicker(NetifdInterval)
	defer netifdTick.Stop()
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
		case now := <-sampleTick.C:
			d.sample(now)
		case <-retryTick.C:
			if d.applyFailed {
				d.replan("retry")
			}
		case <-repairTick.C:
			d.repair()
		case <-d.kernel.DataPlane.Changes():
			d.repair()
		case <-netifdTick.C:
			if d.refreshNetifd(ctx, "") {
				d.replan("netifd")
				d.restartProbers(ctx)
			}
		case m := <-d.events:
			switch m := m.(type) {
			case roundDone:
				d.onRound(m)
			case reloadMsg:
				d.reload(ctx)
			case request:
				m.reply <- d.answer(ctx, m)
			}
		}
	}
}

// answer serves a control socket request.
func (d *Daemon) answer(ctx context.Context, r request) any {
	switch r.kind {
	case "status":
		return d.status()
	case "history":
		return d.historyCopy()
	case "metrics":
		return d.metrics()
	case "reload":
		return d.reload(ctx)
	case "hotplug":
		d.log.Info(fmt.Sprintf("hotplug %s %s", r.action, r.iface))
		if d.refreshNetifd(ctx, r.iface) {
			d.replan("hotplug " + r.action + " " + r.iface)
			d.restartProbers(ctx)
		}
		// The UI's <interface>:<port> listeners follow the LAN's address.
		d.startUI(ctx)
		return true
	}
	return nil
}

// adopt reads the marks a previous daemon left in the kernel (after a
// crash or kill -9); the plan keeps them (plan.Input.Marks), so every WAN
// keeps its mark and existing connections their WAN. The first apply then
// replaces that state in one transaction, with no moment where traffic is
// unsteered.
func (d *Daemon) adopt() {
	marks, err := d.kernel.DataPlane.AdoptMarks()
	if err != nil || len(marks) == 0 {
		return
	}
	d.adopted = map[string]uint32{}
	for i := range d.cfg.WANs {
		w := &d.cfg.WANs[i]
		if m, ok := marks[d.device(w)]; ok {
			d.adopted[w.Name] = m
		}
	}
	d.log.Info(fmt.Sprintf("adopted the marks of %d WANs from a previous run", len(d.adopted)))
}

// device is a WAN's L3 device: from the config, else from netifd.
func (d *Daemon) device(w *config.WAN) string {
	if w.Device != "" {
		return w.Device
	}
	return d.ifaces[w.Name].Device
}

// refreshNetifd asks netifd about one WAN (by interface name) or, with "",
// every WAN. It reports whether anything the plan uses changed.
func (d *Daemon) refreshNetifd(ctx context.Context, only string) bool {
	if d.kernel.Netifd == nil {
		return false
	}
	if d.ifaces == nil {
		d.ifaces = map[string]netifd.Interface{}
	}
	changed := false
	for _, w := range d.cfg.WANs {
		if (only != "" && w.Name != only) || !w.Enabled {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ifc, err := d.kernel.Netifd(qctx, w.Name)
		cancel()
		if err != nil {
			d.log.Debug(fmt.Sprintf("netifd %s: %v", w.Name, err))
			ifc = netifd.Interface{Name: w.Name}
		}
		old := d.ifaces[w.Name]
		d.ifaces[w.Name] = ifc
		if old.Up != ifc.Up || old.Device != ifc.Device || old.Gateway != ifc.Gateway || !slices.Equal(old.DNS, ifc.DNS) {
			changed = true
			d.log.Info(fmt.Sprintf("netifd: %s up=%v device=%s gateway=%s dns=%v", w.Name, ifc.Up, ifc.Device, ifc.Gateway, ifc.DNS))
			if dev := d.device(&w); dev != "" {
				d.links[dev] = linkmon.Get(dev)
			}
			if t := d.trackers[w.Name]; t != nil {
				if ch, ok := t.Carrier(d.carrier(&w), time.Now()); ok {
					d.logChange(w.Name, ch)
				}
			}
		}
	}
	return changed
}

// carrier is whether a WAN's link is usable at layer 2: its device has
// carrier and, when netifd knows the interface, netifd has it up.
func (d *Daemon) carrier(w *config.WAN) bool {
	dev := d.device(w)
	if dev == "" || !d.links[dev].Carrier {
		return false
	}
	if ifc, ok := d.ifaces[w.Name]; ok && d.kernel.Netifd != nil && (w.Device == "" || ifc.Device != "") {
		return ifc.Up
	}
	return true
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
	now := time.Now()
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
			d.links[dev] = linkmon.Get(dev)
		}
		t.Carrier(d.carrier(w), now)
		d.trackers[w.Name] = t
	}
}

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

func (d *Daemon) onLink(l linkmon.Link) {
	prev, known := d.links[l.Device]
	d.links[l.Device] = l
	if known && prev.Carrier == l.Carrier {
		return
	}
	now := time.Now()
	changed := false
	for _, w := range d.cfg.WANs {
		if d.device(&w) != l.Device {
			continue
		}
		if ch, ok := d.trackers[w.Name].Carrier(d.carrier(&w), now); ok {
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
	if d.probes == nil {
		d.probes, d.probesOK = map[string]int{}, map[string]int{}
	}
	for _, r := range m.round.Results {
		d.probes[m.wan]++
		if r.OK {
			d.probesOK[m.wan]++
		}
	}
	if ch, ok := t.Round(m.round); ok {
		d.logChange(m.wan, ch)
		d.replan(m.wan + " " + string(ch.To))
	}
}

func (d *Daemon) logChange(wan string, ch tracker.Change) {
	d.log.Info(fmt.Sprintf("%s %s after %s", wan, ch.To, ch.Reason))
	if d.changes == nil {
		d.changes, d.stateChanges = map[string][]StateChange{}, map[string]int{}
	}
	d.stateChanges[wan]++
	c := append(d.changes[wan], StateChange{At: ch.At.UTC(), From: string(ch.From), To: string(ch.To), Reason: ch.Reason})
	if len(c) > MaxChanges {
		c = c[len(c)-MaxChanges:]
	}
	d.changes[wan] = c
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
	d.runHook(action, wan, d.device(w))
}

// states is the plan's view of every WAN now.
func (d *Daemon) states() map[string]plan.WANState {
	out := map[string]plan.WANState{}
	for i := range d.cfg.WANs {
		w := &d.cfg.WANs[i]
		dev := d.device(w)
		if dev == "" {
			continue
		}
		ifc := d.ifaces[w.Name]
		gw := w.Gateway
		if !gw.IsValid() && (w.Device == "" || ifc.Device == w.Device) {
			gw = ifc.Gateway
		}
		out[w.Name] = plan.WANState{
			Device:  dev,
			Gateway: gw,
			Carrier: d.carrier(w),
			Online:  d.trackers[w.Name].Usable(),
			DNS:     ifc.DNS,
		}
	}
	return out
}

// replan computes and applies the plan, then deletes the connections of
// WANs that stopped being usable. The computed plan is the daemon's
// decision even when the kernel refuses it (probers need its marks, link
// backup its memory); what the kernel carries is d.applied, set only after
// a successful apply, so a retry still deletes an offline WAN's entries.
func (d *Daemon) replan(why string) {
	now := time.Now()
	p := plan.Compute(plan.Input{Config: d.cfg, States: d.states(), Prev: d.prev, Marks: d.adopted, Now: now})
	d.prev = p
	d.saveEngaged(p)
	start := time.Now()
	res, err := d.kernel.DataPlane.Apply(p)
	d.applyFailed = err != nil
	if err != nil {
		d.applyFailures++
		d.log.Error("apply failed, retrying: " + err.Error())
		return
	}
	d.desired = res.Desired
	if res.Changed() {
		took := time.Since(start)
		d.applies++
		d.applyTime += took
		d.log.Info(fmt.Sprintf("applied (%s) in %s; %s", why, took.Round(time.Millisecond), shares(p)))
	}
	d.deleteConntrack(d.applied, p)
	d.applied = p
	d.armSchedule(now)
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
	d.waitHooks()
	d.stopUI()
	if err := d.kernel.DataPlane.Flush(); err != nil {
		return fmt.Errorf("flush on stop: %w", err)
	}
	d.log.Info("stopped; kernel state removed")
	return nil
}

// ErrNotRunning is returned by Client calls when no daemon answers.
var ErrNotRunning = errors.New("wanlb daemon is not running")
