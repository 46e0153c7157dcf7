// Package daemon runs wanlb: one goroutine owns all state (config,
// per-WAN trackers, the current plan, the data plane); the probe monitor,
// the link monitor, timers and signals only send it messages. Every
// change that matters yields a new Plan, applied atomically; a WAN that
// goes offline has its connections deleted from conntrack (its mark only)
// so they move to a working WAN at once.
//
// Files by concern: daemon.go the state loop, reload.go the running
// config, links.go carrier and netifd, probing.go probe rounds and state
// changes, replan.go plan, apply, schedule and repair, adopt.go and
// state.go what survives a restart, hook.go the hook script, control.go
// the control socket, status.go and telemetry.go what it reports, ui.go
// and uiserve.go the web UI.
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/linkmon"
	"github.com/wanlb/wanlb/internal/monitor"
	"github.com/wanlb/wanlb/internal/netifd"
	"github.com/wanlb/wanlb/internal/passive"
	"github.com/wanlb/wanlb/internal/plan"
	"github.com/wanlb/wanlb/internal/probe"
	"github.com/wanlb/wanlb/internal/tracker"
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
	// Version is the build's version, as `wanlb version` prints it; the
	// status reports it.
	Version string
	// Clock is the daemon's time; nil means the system's.
	Clock Clock
}

// Kernel is what the daemon needs from the system. Each part is a small
// interface so that the state loop runs in unit tests over fakes.
type Kernel struct {
	DataPlane DataPlane
	Conntrack dataplane.Conntrack // nil: offline WANs keep their connections
	// Netifd looks up a logical interface, for WANs whose device or
	// gateway the config leaves to netifd. nil: the config must name them.
	Netifd func(ctx context.Context, name string) (netifd.Interface, error)
	// Links is the devices' carrier; nil means the kernel's (netlink).
	Links linkmon.Source
	// Probe sends one probe; nil means probe.Probe.
	Probe monitor.ProbeFunc
	// Prefixes are the LAN's IPv6 addresses routed mode deprecates on
	// failover; nil: it does not.
	Prefixes Prefixes
	// Counters are the devices' packet counters, for passive detection;
	// nil: no passive detection (probes alone).
	Counters passive.Source
}

// Daemon is the running service.
type Daemon struct {
	opts   Options
	kernel Kernel
	log    *slog.Logger
	clock  Clock

	events chan any
	rounds chan monitor.Round

	// Owned by the Run goroutine.
	cfg      *config.Config
	problems []config.Problem
	trackers map[string]*tracker.Tracker
	// roundStarted is when the last judged probe round of each prober
	// (a WAN, or its IPv6 side) started: older rounds are dropped.
	roundStarted map[string]time.Time
	links        map[string]linkmon.Link     // by device
	ifaces       map[string]netifd.Interface // by WAN name, from netifd
	ifaces6      map[string]netifd.Interface // the IPv6 sides (interface6), by WAN name
	prev         *plan.Plan                  // the last computed plan
	adopted      map[string]uint32           // mark indexes by WAN name a previous run left in the kernel
	applied      *plan.Plan                  // the last plan the kernel accepted
	desired      *dataplane.Desired          // of the last successful apply, for the repair check
	monitor      *monitor.Monitor
	// Passive detection (passive.go); passive is nil without Counters.
	passive      *passive.Watcher
	suspicions   chan passive.Event
	bursts       chan burstDone
	passiveCtx   context.Context
	probed       map[string]monitor.Spec // by WAN, the watched WANs' probing
	probeFn      monitor.ProbeFunc
	passiveStats map[string]*passiveStats
	offlineBy    map[string]map[tracker.Cause]int
	schedule     Timer
	hooks        sync.WaitGroup
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

	// The IPv6 sides: masq6.go, probing6.go, prefix6.go.
	masq6                             masq6Check                  // whose IPv6 sides the firewall translates
	trackers6                         map[string]*tracker.Tracker // the IPv6 sides probed on their own
	stateChanges6, probes6, probesOK6 map[string]int              // their counters
	deprecated6                       deprecated6                 // LAN addresses routed mode deprecated
	stale6                            bool                        // an IPv6 side's state changed outside a replan
}

// reloadMsg asks the state goroutine to re-read the config.
type reloadMsg struct{}

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
	// RetryInterval: how often a failed apply is retried.
	RetryInterval = time.Second
)

// New returns a daemon; Run starts it.
func New(opts Options, k Kernel) *Daemon {
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	if k.Links == nil {
		k.Links = linkmon.System{}
	}
	d := &Daemon{opts: opts, kernel: k, log: opts.Log, clock: opts.Clock,
		events: make(chan any, 64), rounds: make(chan monitor.Round, 64)}
	d.probeFn = k.Probe
	if d.probeFn == nil {
		d.probeFn = probe.Probe
	}
	if k.Counters != nil {
		d.suspicions, d.bursts = make(chan passive.Event, 16), make(chan burstDone, 16)
		d.passive = passive.New(d.suspicions, k.Counters, opts.Log)
		d.probeFn = d.countingProbe(d.probeFn)
	}
	d.monitor = monitor.New(d.rounds, d.probeFn, opts.Log)
	return d
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
	linksDone := make(chan struct{})
	go func() {
		defer close(linksDone)
		d.kernel.Links.Watch(linkCtx, linkEvents)
	}()
	defer func() {
		stopLinks()
		<-linksDone
	}()

	d.replan("start")
	d.restartProbers(ctx)
	d.startUI(ctx)
	d.sample(d.clock.Now())
	sampleTick := d.clock.NewTicker(HistoryInterval)
	defer sampleTick.Stop()
	retryTick := d.clock.NewTicker(RetryInterval)
	defer retryTick.Stop()
	repairTick := d.clock.NewTicker(RepairInterval)
	defer repairTick.Stop()
	netifdTick := d.clock.NewTicker(NetifdInterval)
	defer netifdTick.Stop()
	for {
		var scheduleC <-chan time.Time
		if d.schedule != nil {
			scheduleC = d.schedule.C()
		}
		select {
		case <-ctx.Done():
			return d.stop()
		case l := <-linkEvents:
			d.onLink(l)
		case r := <-d.rounds:
			d.onRound(r)
		case ev := <-d.suspicions:
			d.onSuspicion(ev)
		case b := <-d.bursts:
			d.onBurst(b)
		case <-scheduleC:
			d.schedule = nil
			d.replan("effective time boundary")
		case now := <-sampleTick.C():
			d.sample(now)
		case <-retryTick.C():
			if d.applyFailed {
				d.replan("retry")
			}
		case <-repairTick.C():
			d.repair()
		case <-d.kernel.DataPlane.Changes():
			d.repair()
		case <-netifdTick.C():
			if d.refreshNetifd(ctx, "") {
				d.replan("netifd")
				d.restartProbers(ctx)
			}
		case m := <-d.events:
			switch m := m.(type) {
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

// stop removes wanlb's kernel state on a clean shutdown.
func (d *Daemon) stop() error {
	d.monitor.Stop()
	if d.passive != nil {
		d.passive.Stop()
	}
	d.waitHooks()
	d.stopUI()
	d.steer6(nil)
	if err := d.kernel.DataPlane.Flush(); err != nil {
		return fmt.Errorf("flush on stop: %w", err)
	}
	d.log.Info("stopped; kernel state removed")
	return nil
}

// ErrNotRunning is returned by Client calls when no daemon answers.
var ErrNotRunning = errors.New("wanlb daemon is not running")
