package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/monitor"
	"github.com/wanlb/wanlb/internal/passive"
	"github.com/wanlb/wanlb/internal/probe"
	"github.com/wanlb/wanlb/internal/tracker"
)

// Passive detection: the watcher (package passive) reports a WAN whose
// traffic goes unanswered; the state goroutine confirms with a burst of
// probes on a goroutine of its own and takes the WAN offline when the
// burst fails. A burst that is answered changes nothing.

// BurstMin is the shortest burst timeout; the burst waits at least 4× the
// WAN's last RTT and at most its probe timeout, so a slow line is not
// declared dead for being slow.
const BurstMin = 200 * time.Millisecond

// probePackets is what one probe sends before any answer: one echo
// request, one SYN or one DNS query. The watcher discounts them; what a
// probe sends after an answer (ACK, FIN) follows packets received, which
// clears any suspicion anyway.
const probePackets = 1

// burstDone is a burst's verdict, sent back to the state goroutine.
type burstDone struct {
	ev       passive.Event
	answered bool
	took     time.Duration
}

// passiveStats count, per WAN, what the watcher raised and what bursts cleared.
type passiveStats struct{ suspicions, cleared int }

// countingProbe wraps the probe function so that the watcher knows which
// sent packets are wanlb's own probes.
func (d *Daemon) countingProbe(fn monitor.ProbeFunc) monitor.ProbeFunc {
	if fn == nil {
		fn = probe.Probe
	}
	return func(ctx context.Context, via probe.Via, t config.Target) probe.Result {
		d.passive.Probed(via.Device, probePackets)
		return fn(ctx, via, t)
	}
}

// restartPassive watches every probed WAN with passive on.
func (d *Daemon) restartPassive(ctx context.Context, specs []monitor.Spec) {
	if d.passive == nil {
		return
	}
	d.passiveCtx = ctx
	d.probed = map[string]monitor.Spec{}
	var ps []passive.Spec
	for _, s := range specs {
		w, ok := d.cfg.WAN(s.WAN)
		if !ok || !w.Passive || s.Via.Device == "" {
			continue
		}
		d.probed[s.WAN] = s
		ps = append(ps, passive.Spec{WAN: s.WAN, Device: s.Via.Device, Window: w.PassiveWindow,
			Cooldown: max(2*w.PassiveWindow, w.Interval), Armed: d.trackers[s.WAN].Usable()})
	}
	d.passive.Restart(ctx, ps)
}

// onSuspicion starts the burst that confirms or clears a suspicion.
func (d *Daemon) onSuspicion(ev passive.Event) {
	if ev.Gen != d.passive.Gen() {
		return
	}
	s, ok := d.probed[ev.WAN]
	t := d.trackers[ev.WAN]
	if !ok || t == nil || !t.Usable() {
		d.passive.Resolve(ev.WAN, false)
		return
	}
	d.countPassive(ev.WAN, func(p *passiveStats) { p.suspicions++ })
	timeout := min(s.Timeout, max(BurstMin, 4*t.RTT()))
	ctx, fn := d.passiveCtx, d.probeFn
	go func() {
		start := time.Now()
		ok := passive.Burst(ctx, passive.ProbeFunc(fn), s.Via, s.Targets, timeout)
		select {
		case d.bursts <- burstDone{ev: ev, answered: ok, took: time.Since(start)}:
		case <-ctx.Done():
		}
	}()
}

// onBurst takes a burst's verdict.
func (d *Daemon) onBurst(b burstDone) {
	if b.ev.Gen != d.passive.Gen() {
		return
	}
	wan := b.ev.WAN
	if b.answered {
		d.passive.Resolve(wan, true)
		d.countPassive(wan, func(p *passiveStats) { p.cleared++ })
		d.log.Debug(fmt.Sprintf("%s: %d packets unanswered for %s; a probe burst was answered, nothing changes",
			wan, b.ev.Sent, b.ev.At.Sub(b.ev.Since).Round(time.Millisecond)))
		return
	}
	d.passive.Resolve(wan, false)
	t := d.trackers[wan]
	if t == nil {
		return
	}
	detail := fmt.Sprintf("%d packets sent with nothing back for %s, then a probe burst failed within %s",
		b.ev.Sent, b.ev.At.Sub(b.ev.Since).Round(time.Millisecond), b.took.Round(time.Millisecond))
	if ch, ok := t.Traffic(d.clock.Now(), detail); ok {
		d.logChange(wan, ch)
		d.replan(wan + " " + string(ch.To))
	}
}

// armPassive tells the watcher whether a WAN carries traffic after a
// state change.
func (d *Daemon) armPassive(wan string, to tracker.State) {
	if d.passive != nil {
		d.passive.Arm(wan, to == tracker.Online || to == tracker.Disconnecting)
	}
}

func (d *Daemon) countPassive(wan string, f func(*passiveStats)) {
	if d.passiveStats == nil {
		d.passiveStats = map[string]*passiveStats{}
	}
	p := d.passiveStats[wan]
	if p == nil {
		p = &passiveStats{}
		d.passiveStats[wan] = p
	}
	f(p)
}
