package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/dataplane/dataplanetest"
	"github.com/wanlb/wanlb/internal/linkmon"
	"github.com/wanlb/wanlb/internal/monitor"
	"github.com/wanlb/wanlb/internal/plan"
	"github.com/wanlb/wanlb/internal/tracker"
	"github.com/wanlb/wanlb/internal/webui"
)

// The state loop over fakes: Run with a fake data plane, conntrack, link
// source, netifd, prober and clock, driven through its real inputs (the
// control socket, SIGHUP's Reload, link events, probe rounds, ticks). No
// root needed; these run under -race.

// harness is a running daemon and its fakes.
type harness struct {
	t     *testing.T
	d     *Daemon
	cfg   string // the config directory
	run   string
	dp    *dataplanetest.DataPlane
	ct    *dataplanetest.Conntrack
	links *fakeLinks
	nf    *fakeNetifd
	pr    *fakeProber
	clock *fakeClock
	done  chan error
	stop  context.CancelFunc
}

// start is 09:59 local time on a Monday: one minute before the schedule
// boundary the timing test uses.
var start = time.Date(2026, 1, 5, 9, 59, 0, 0, time.Local)

// startDaemon runs a daemon on uci; setup, when given, changes the fakes
// (and the kernel) before Run starts.
func startDaemon(t *testing.T, uci string, setup func(*harness, *Kernel)) *harness {
	t.Helper()
	h := &harness{t: t, cfg: t.TempDir(), run: t.TempDir(), dp: dataplanetest.New(),
		ct: &dataplanetest.Conntrack{}, links: newFakeLinks(), nf: &fakeNetifd{}, pr: &fakeProber{},
		clock: &fakeClock{now: start}, done: make(chan error, 1)}
	h.writeConfig(uci)
	k := Kernel{DataPlane: h.dp, Conntrack: h.ct, Links: h.links, Probe: h.pr.Probe}
	if setup != nil {
		setup(h, &k)
	}
	h.d = New(Options{ConfigDir: h.cfg, RunDir: h.run, Version: "1.2.3-test", Clock: h.clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, k)
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.done <- h.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-h.done
	})
	h.eventually("the control socket answers", func() bool {
		_, err := h.client().Status()
		return err == nil
	})
	return h
}

func (h *harness) writeConfig(uci string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.cfg, "wanlb"), []byte(uci), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) client() Client { return Client{RunDir: h.run} }

// eventually polls cond until it holds, failing the test after 10 s: the
// loop runs on its own goroutine on a busy machine.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sync waits until the state goroutine has handled the requests sent
// before: a status request queues behind them. (Link events, rounds and
// ticks come on other channels: see advance, and the link test.)
func (h *harness) sync() Status {
	h.t.Helper()
	s, err := h.client().Status()
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// advance moves the clock and waits until the daemon has handled every
// tick and timer that came due: it has read them all, and a status
// request sent after that is answered after their handlers ran.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clock.Advance(d)
	h.eventually("the daemon reads its ticks", h.clock.drained)
	h.sync()
}

// usable reports whether the last applied plan has wan usable.
func (h *harness) usable(wan string) bool {
	p := h.dp.Last()
	if p == nil {
		return false
	}
	w, ok := p.WAN(wan)
	return ok && w.Usable
}

// carriers is which WANs carry the default traffic in the last plan.
func (h *harness) carriers() []string {
	var out []string
	if p := h.dp.Last(); p != nil {
		for _, m := range p.Default.Members {
			out = append(out, m.WAN)
		}
	}
	return out
}

func TestLoopStartReportsAndStops(t *testing.T) {
	h := startDaemon(t, twoWANs, nil)
	s := h.sync()
	if s.Version != "1.2.3-test" || s.Backend != "fake" || len(s.WANs) != 2 {
		t.Fatalf("status: version %q backend %q %d WANs", s.Version, s.Backend, len(s.WANs))
	}
	for _, w := range s.WANs {
		if w.State != "online" || !w.Active || w.Mark == "" || w.Device != w.Name {
			t.Errorf("at start %s should be online and active with a mark: %+v", w.Name, w)
		}
	}
	if !h.usable("wan1") || !h.usable("wan2") {
		t.Fatal("the start plan should use both WANs")
	}
	h.stop()
	if err := <-h.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.done <- nil // for the cleanup
	if !h.dp.Flushed() {
		t.Error("stop did not remove the kernel state")
	}
	if _, err := os.Stat(filepath.Join(h.run, SocketName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left behind: %v", err)
	}
}

func TestLoopRefusesAnInvalidConfigAtStart(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "wanlb"), []byte("config wan 'wan1'\n\toption weight 'heavy'\n"), 0o644)
	d := New(Options{ConfigDir: dir, RunDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)},
		Kernel{DataPlane: dataplanetest.New(), Links: newFakeLinks()})
	if err := d.Run(t.Context()); err == nil {
		t.Fatal("Run started on an invalid config")
	}
}

const probedWANs = "config wan 'wan1'\n\toption device 'wan1'\n\toption gateway '198.18.11.1'\n" +
	"\toption detection 'manual'\n\tlist track '198.18.100.1'\n\toption interval '0.2'\n\toption timeout '1'\n\toption down '1'\n\toption up '1'\n\n" +
	"config wan 'wan2'\n\toption device 'wan2'\n\toption gateway '198.18.12.1'\n" +
	"\toption detection 'manual'\n\tlist track '198.18.100.1'\n\toption interval '0.2'\n\toption timeout '1'\n\toption down '1'\n\toption up '1'\n\n"

// TestLoopProbeRoundsMoveTraffic: a WAN whose probes fail goes offline,
// leaves the plan and loses its connections; when they answer again it
// comes back.
func TestLoopProbeRoundsMoveTraffic(t *testing.T) {
	h := startDaemon(t, probedWANs, nil)
	wan1, _ := h.dp.Last().WAN("wan1")
	mark := h.dp.Last().MarkMask.Value(wan1.Mark)

	h.pr.kill("wan1", true)
	h.eventually("wan1 leaves the plan", func() bool { return !h.usable("wan1") && h.usable("wan2") })
	h.eventually("wan1's connections are deleted", func() bool { return slices.Equal(h.ct.Marks(), []uint32{mark}) })
	s := h.sync()
	if s.WANs[0].State != "offline" || len(s.WANs[0].Changes) == 0 || s.WANs[0].Changes[len(s.WANs[0].Changes)-1].To != "offline" {
		t.Errorf("status of wan1: %+v", s.WANs[0])
	}

	h.pr.kill("wan1", false)
	h.eventually("wan1 is back", func() bool { return h.usable("wan1") })
	v, err := h.d.ask(t.Context(), request{kind: "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	m := v.(webui.Metrics)
	if m.WANs[0].Probes == 0 || m.WANs[0].ProbesOK >= m.WANs[0].Probes || m.WANs[0].StateChanges != 2 || m.Applies < 3 {
		t.Errorf("metrics: %+v", m)
	}
}

// TestLoopStaleRoundsAreDropped: a round from probers of an older
// generation (another mark or device) must not judge the WAN.
func TestLoopStaleRoundsAreDropped(t *testing.T) {
	d, dp, _ := testDaemon(t, t.TempDir(), probedWANs)
	d.replan("start")
	d.restartProbers(t.Context())
	defer d.monitor.Stop()
	failed := tracker.Round{At: time.Now(), Results: []tracker.Result{{OK: false}}}
	d.onRound(monitor.Round{WAN: "wan1", Gen: d.monitor.Gen() - 1, Round: failed})
	if w, _ := dp.Last().WAN("wan1"); !w.Usable || d.trackers["wan1"].State() != tracker.Online {
		t.Fatal("a stale round took wan1 down")
	}
	d.onRound(monitor.Round{WAN: "gone", Gen: d.monitor.Gen(), Round: failed})
	d.onRound(monitor.Round{WAN: "wan1", Gen: d.monitor.Gen(), Round: failed})
	if w, _ := dp.Last().WAN("wan1"); w.Usable {
		t.Fatal("a current failed round (down 1) left wan1 usable")
	}
}

// TestLoopRoundsJudgedInStartOrder: rounds overlap when the timeout is
// longer than the interval, and a failed one ends at its deadline, after
// the next round's answers. One that started before the last judged round
// is dropped: it must not take a recovered WAN offline again.
func TestLoopRoundsJudgedInStartOrder(t *testing.T) {
	d, dp, _ := testDaemon(t, t.TempDir(), probedWANs) // down 1, up 1
	d.replan("start")
	d.restartProbers(t.Context())
	defer d.monitor.Stop()
	t0 := time.Now()
	round := func(started time.Duration, ok bool) {
		d.onRound(monitor.Round{WAN: "wan1", Gen: d.monitor.Gen(), Started: t0.Add(started),
			Round: tracker.Round{At: time.Now(), Results: []tracker.Result{{OK: ok, RTT: time.Millisecond}}}})
	}
	usable := func() bool { w, _ := dp.Last().WAN("wan1"); return w.Usable }
	round(0, false)
	if usable() {
		t.Fatal("a failed round (down 1) left wan1 usable")
	}
	round(200*time.Millisecond, true)
	if !usable() {
		t.Fatal("a good round (up 1) did not bring wan1 back")
	}
	round(100*time.Millisecond, false) // started before the good one, ended after it
	if !usable() || d.trackers["wan1"].State() != tracker.Online {
		t.Fatal("a round older than the last judged took wan1 offline again")
	}
	round(300*time.Millisecond, false)
	if usable() {
		t.Fatal("a newer failed round was not judged")
	}
}

// TestLoopLinkEvents: carrier loss takes a WAN out at once; carrier back
// brings it in; an event that changes nothing applies nothing.
func TestLoopLinkEvents(t *testing.T) {
	h := startDaemon(t, twoWANs, nil)
	n := h.dp.Count()
	h.links.set("wan2", false)
	h.eventually("wan2 leaves the plan", func() bool { return !h.usable("wan2") && h.usable("wan1") })
	if s := h.sync(); s.WANs[1].State == "online" {
		t.Errorf("wan2 without carrier is %s", s.WANs[1].State)
	}
	h.links.set("wan2", false) // the same again (a poll)
	h.links.set("lan", true)   // not a WAN's device
	// Link events are handled in order: once wan1's loss is applied, the
	// two before it were handled, and must not have applied anything.
	h.links.set("wan1", false)
	h.eventually("wan1 leaves the plan", func() bool { return !h.usable("wan1") })
	if got := h.dp.Count(); got != n+2 {
		t.Errorf("%d applies after two carrier changes, want 2", got-n)
	}
	h.links.set("wan2", true)
	h.eventually("wan2 is back", func() bool { return h.usable("wan2") })
}

// TestLoopReload: SIGHUP's Reload and the control socket's reload apply a
// new config; a config with errors is refused and the old one keeps
// running.
func TestLoopReload(t *testing.T) {
	h := startDaemon(t, twoWANs, nil)
	h.writeConfig(twoWANs + "config wan 'wan3'\n\toption device 'wan3'\n\toption gateway '198.18.13.1'\n")
	h.d.Reload()
	h.eventually("wan3 joins the plan", func() bool { return h.usable("wan3") })

	h.writeConfig("config wan 'wan1'\n\toption weight 'heavy'\n")
	r, err := h.client().Reload()
	if err != nil || r.Applied || len(r.Problems) == 0 {
		t.Fatalf("an invalid config was not refused: %+v %v", r, err)
	}
	if s := h.sync(); len(s.WANs) != 3 || len(s.Problems) == 0 {
		t.Errorf("after the refused reload: %d WANs, problems %v", len(s.WANs), s.Problems)
	}

	h.writeConfig(twoWANs)
	if r, err := h.client().Reload(); err != nil || !r.Applied {
		t.Fatalf("reload: %+v %v", r, err)
	}
	if p := h.dp.Last(); len(p.WANs) != 2 {
		t.Errorf("after removing wan3 the plan has %d WANs", len(p.WANs))
	}
}

const netifdWANs = "config wan 'wan1'\n\toption detection 'always_online'\n\n" +
	"config wan 'wan2'\n\toption device 'wan2'\n\toption gateway '198.18.12.1'\n\toption detection 'always_online'\n"

// TestLoopNetifd: a WAN that leaves its device and gateway to netifd
// joins the plan on hotplug ifup, follows a gateway change caught by the
// periodic refresh, and leaves on ifdown.
func TestLoopNetifd(t *testing.T) {
	h := startDaemon(t, netifdWANs, func(h *harness, k *Kernel) { k.Netifd = h.nf.Status })
	if _, ok := h.dp.Last().WAN("wan1"); ok {
		t.Fatal("wan1 is in the plan before netifd knows its device")
	}
	h.nf.set("wan1", "pppoe-wan1", "198.18.11.1", true)
	if err := h.client().Hotplug("ifup", "wan1"); err != nil {
		t.Fatal(err)
	}
	if !h.usable("wan1") {
		t.Fatal("wan1 not usable after ifup")
	}
	if w, _ := h.dp.Last().WAN("wan1"); w.Device != "pppoe-wan1" || w.Gateway.String() != "198.18.11.1" {
		t.Errorf("wan1 after ifup: %+v", w)
	}

	// A DHCP renewal with a new gateway, its hotplug event lost.
	h.nf.set("wan1", "pppoe-wan1", "198.18.11.254", true)
	h.clock.Advance(NetifdInterval)
	h.eventually("the refresh picks up the new gateway", func() bool {
		w, _ := h.dp.Last().WAN("wan1")
		return w.Gateway.String() == "198.18.11.254"
	})

	h.nf.set("wan1", "pppoe-wan1", "198.18.11.254", false)
	if err := h.client().Hotplug("ifdown", "wan1"); err != nil {
		t.Fatal(err)
	}
	if h.usable("wan1") {
		t.Error("wan1 still usable after ifdown")
	}
}

// TestLoopRetriesAFailedApply: the kernel refuses an apply; the retry tick
// applies it, and only then are the offline WAN's connections deleted.
func TestLoopRetriesAFailedApply(t *testing.T) {
	h := startDaemon(t, twoWANs, nil)
	n := h.dp.Count()
	h.dp.FailNext(1)
	h.links.set("wan1", false)
	h.eventually("the apply was tried", func() bool { return h.dp.FailsLeft() == 0 })
	h.sync()
	if h.dp.Count() != n || len(h.ct.Marks()) != 0 {
		t.Fatalf("refused apply: %d applies (want %d), conntrack deletions %v", h.dp.Count(), n, h.ct.Marks())
	}
	h.clock.Advance(RetryInterval)
	h.eventually("the retry applies", func() bool { return h.dp.Count() == n+1 && !h.usable("wan1") })
	h.eventually("wan1's connections are deleted", func() bool { return len(h.ct.Marks()) == 1 })
	// Nothing failed since: the retry tick does not apply again.
	h.advance(RetryInterval)
	if h.dp.Count() != n+1 {
		t.Errorf("%d applies, want %d: the retry tick applied without a failure", h.dp.Count(), n+1)
	}
}

// TestLoopRepair: rules removed by someone else come back on the repair
// tick and on the backend's change event, with a full sync; intact rules
// are left alone.
func TestLoopRepair(t *testing.T) {
	h := startDaemon(t, twoWANs, nil)
	n := h.dp.Count()
	h.advance(RepairInterval)
	if h.dp.Count() != n {
		t.Fatal("the repair tick re-applied intact rules")
	}
	h.dp.Break()
	h.clock.Advance(RepairInterval)
	h.eventually("the repair tick restores the rules", func() bool { return h.dp.Count() == n+1 })

	h.dp.Break()
	h.dp.Changed()
	h.eventually("a change event restores the rules", func() bool { return h.dp.Count() == n+2 })
	if n := h.dp.FullSyncs(); n != 2 {
		t.Errorf("%d full syncs requested, want 2", n)
	}
}

const timing = twoWANs + "config link_backup\n\tlist primary 'wan1'\n\tlist backup 'wan2'\n\toption mode 'timing'\n" +
	"\toption start_time '10:00'\n\toption stop_time '11:00'\n"

// TestLoopScheduleBoundaries: a timing entry's effective time starts and
// ends on the clock, without any other event.
func TestLoopScheduleBoundaries(t *testing.T) {
	h := startDaemon(t, timing, nil)
	// Outside its effective time the entry does nothing: both carry.
	if got := h.carriers(); !slices.Equal(got, []string{"wan1", "wan2"}) {
		t.Fatalf("before 10:00 both WANs should carry: %v", got)
	}
	h.clock.Advance(time.Minute)
	h.eventually("at 10:00 the backup carries", func() bool { return slices.Equal(h.carriers(), []string{"wan2"}) })
	// The new plan is visible once applied, but the timer for the next
	// boundary is armed at the end of that replan: let it finish first,
	// or the hour would pass before the timer exists (seen under qemu).
	h.sync()
	h.clock.Advance(time.Hour)
	h.eventually("at 11:00 both carry again", func() bool { return slices.Equal(h.carriers(), []string{"wan1", "wan2"}) })
	h.advance(0)
	if h.clock.armed() != 1 {
		t.Errorf("%d schedule timers armed, want 1 (the next boundary)", h.clock.armed())
	}
}

// TestLoopAdoptsMarks: the marks a previous daemon left are kept.
func TestLoopAdoptsMarks(t *testing.T) {
	var p *plan.Plan
	h := startDaemon(t, twoWANs, func(h *harness, _ *Kernel) {
		h.dp.SetAdopt(map[string]uint32{"wan1": 2, "wan2": 1})
	})
	p = h.dp.Last()
	w1, _ := p.WAN("wan1")
	w2, _ := p.WAN("wan2")
	if w1.Mark != 2 || w2.Mark != 1 {
		t.Errorf("marks after adoption: wan1 %d wan2 %d, want 2 and 1", w1.Mark, w2.Mark)
	}
}

// TestLoopSamplesHistory: the sample tick records a point per WAN.
func TestLoopSamplesHistory(t *testing.T) {
	h := startDaemon(t, twoWANs, nil)
	h.clock.Advance(HistoryInterval)
	h.eventually("a second sample", func() bool {
		v, err := h.d.ask(t.Context(), request{kind: "history"})
		if err != nil {
			t.Fatal(err)
		}
		return len(v.(History).WANs["wan1"]) == 2
	})
}

// TestLoopHookOnStateChange: the hook runs with the WAN's state change.
func TestLoopHookOnStateChange(t *testing.T) {
	out := filepath.Join(t.TempDir(), "hook.out")
	hook := filepath.Join(t.TempDir(), "hook.sh")
	os.WriteFile(hook, []byte("#!/bin/sh\necho \"$ACTION $WAN $DEVICE $FAMILY\" >> "+out+"\n"), 0o755)
	h := startDaemon(t, "config globals\n\toption hook '"+hook+"'\n\n"+twoWANs, nil)
	h.links.set("wan2", false)
	h.eventually("the hook ran", func() bool {
		b, _ := os.ReadFile(out)
		return string(b) == "offline wan2 wan2 ipv4\n"
	})
}

// TestLoopHookOnIPv6SideChange: a WAN's IPv6 side, judged on its own,
// runs the hook with actions of its own and its IPv6 device; the WAN's
// own state (IPv4 working) runs nothing.
func TestLoopHookOnIPv6SideChange(t *testing.T) {
	out := filepath.Join(t.TempDir(), "hook.out")
	hook := filepath.Join(t.TempDir(), "hook.sh")
	os.WriteFile(hook, []byte("#!/bin/sh\necho \"$ACTION $WAN $DEVICE $FAMILY\" >> "+out+"\n"), 0o755)
	h := startDaemon(t, "config globals\n\toption hook '"+hook+"'\n\n"+dualWANs, nil)
	h.eventually("both IPv6 sides probed", func() bool { return len(h.d.sidesSnapshot()) == 4 })
	h.pr.kill("wan1v6", true)
	h.eventually("the hook ran for wan1's IPv6 side", func() bool {
		b, _ := os.ReadFile(out)
		return string(b) == "offline6 wan1 wan1v6 ipv6\n"
	})
	h.pr.kill("wan1v6", false)
	h.eventually("the hook ran for its recovery", func() bool {
		b, _ := os.ReadFile(out)
		return string(b) == "offline6 wan1 wan1v6 ipv6\nonline6 wan1 wan1v6 ipv6\n"
	})
}

var _ linkmon.Source = (*fakeLinks)(nil)

// TestLoopRevertZeroSurvivesRestart: a backup that took over under
// revert 0 still carries after the daemon restarts over the same run
// directory, with every WAN online again.
func TestLoopRevertZeroSurvivesRestart(t *testing.T) {
	h := startDaemon(t, revert0, nil)
	h.links.set("wan1", false)
	h.eventually("the backup takes over", func() bool { return slices.Equal(h.carriers(), []string{"wan2"}) })
	h.stop()
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	h.done <- nil // for the cleanup

	h2 := startDaemon(t, revert0, func(h2 *harness, _ *Kernel) { h2.run = h.run })
	if got := h2.carriers(); !slices.Equal(got, []string{"wan2"}) {
		t.Fatalf("after the restart %v carry, want the backup alone (revert 0)", got)
	}
}

// TestLoopStopWaitsForProbes: when Run returns no probe is still out, even
// one waiting for a long timeout.
func TestLoopStopWaitsForProbes(t *testing.T) {
	slow := strings.ReplaceAll(probedWANs, "option timeout '1'", "option timeout '10'")
	h := startDaemon(t, slow, func(h *harness, _ *Kernel) { h.pr.hang = true; h.pr.kill("wan1", true) })
	h.eventually("a probe of wan1 is out", func() bool { return h.pr.running() > 0 })
	h.stop()
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	h.done <- nil // for the cleanup
	if n := h.pr.running(); n != 0 {
		t.Errorf("%d probes still out after Run returned", n)
	}
}
