package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/monitor"
	"github.com/wanlb/wanlb/internal/probe"
	"github.com/wanlb/wanlb/internal/tracker"
)

// Probing: the monitor runs the rounds; the state goroutine turns the
// plan into the monitor's specs and feeds each round to its WAN's tracker.

// probeSpecs is what to probe under the current config and plan: every
// enabled WAN with probing on, through its mark and device.
func (d *Daemon) probeSpecs() []monitor.Spec {
	var specs []monitor.Spec
	for _, w := range d.cfg.WANs {
		pw, ok := d.prev.WAN(w.Name)
		if !w.Enabled || !ok || w.Detection == config.DetectAlwaysOnline {
			continue
		}
		targets := w.Track
		if w.Detection == config.DetectAuto {
			targets = probe.AutoTargets()
		}
		specs = append(specs, monitor.Spec{WAN: w.Name, Via: probe.Via{Mark: d.prev.MarkMask.Value(pw.Mark), Device: pw.Device},
			Targets: targets, Interval: w.Interval, Timeout: w.Timeout})
	}
	return d.splitFamilies(specs)
}

// restartProbers stops every prober and starts one per probed WAN with
// the current marks and settings.
func (d *Daemon) restartProbers(ctx context.Context) {
	specs := d.probeSpecs()
	d.monitor.Restart(ctx, specs)
	d.roundStarted = nil // a new generation: older rounds are dropped by it

	d.restartPassive(ctx, specs)
}

// onRound feeds a round to its WAN's tracker; a round of an older
// generation (probing a mark or device no longer used) is dropped.
func (d *Daemon) onRound(m monitor.Round) {
	if m.Gen != d.monitor.Gen() {
		return
	}
	// Rounds overlap when the timeout is longer than the interval (the
	// fast profile: 0.4 s against 0.2 s), and a failed round ends at its
	// deadline, after the next round's answers. They are judged in the
	// order they started: one that started before the last judged is
	// news from before, and would push a recovering WAN back offline.
	if d.roundStarted == nil {
		d.roundStarted = map[string]time.Time{} // see restartProbers
	}
	if m.Started.Before(d.roundStarted[m.WAN]) {
		return
	}
	d.roundStarted[m.WAN] = m.Started
	if d.onRound6(m) {
		return
	}
	t, ok := d.trackers[m.WAN]
	if !ok {
		return
	}
	if d.probes == nil {
		d.probes, d.probesOK = map[string]int{}, map[string]int{}
	}
	for _, r := range m.Round.Results {
		d.probes[m.WAN]++
		if r.OK {
			d.probesOK[m.WAN]++
		}
	}
	if ch, ok := t.Round(m.Round); ok {
		d.logChange(m.WAN, ch)
		d.replan(m.WAN + " " + string(ch.To))
	}
}

// logChange records a WAN's state change for the status and metrics and
// runs the hook for online and offline.
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
	d.armPassive(wan, ch.To)
	if t := d.trackers[wan]; ch.To == tracker.Offline && t != nil {
		if d.offlineBy == nil {
			d.offlineBy = map[string]map[tracker.Cause]int{}
		}
		if d.offlineBy[wan] == nil {
			d.offlineBy[wan] = map[tracker.Cause]int{}
		}
		d.offlineBy[wan][t.OfflineReason()]++
	}
	if action := hookAction(ch.To); action != "" {
		w, _ := d.cfg.WAN(wan)
		d.runHook(action, wan, d.device(w), "ipv4")
	}
}
