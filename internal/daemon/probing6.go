package daemon

import (
	"fmt"
	"strings"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/monitor"
	"github.com/wanlb/wanlb/internal/plan"
	"github.com/wanlb/wanlb/internal/probe"
	"github.com/wanlb/wanlb/internal/tracker"
)

// Detection per family: a WAN with an IPv6 side and probe targets of both
// families (IPv6 addresses in `track`, or detection 'auto', which adds
// built-in IPv6 targets) has two trackers. Its IPv4 targets judge the WAN
// (its state, hook and status as before); its IPv6 targets, probed through
// the IPv6 side's device, judge the IPv6 side on its own, so a WAN with
// working IPv4 and dead IPv6 keeps its IPv4 and loses its IPv6. With
// targets of one family only, one tracker judges both sides, as before.
//
// The monitor runs the IPv6 side as a WAN of its own named '<wan>/6' (no
// section name holds a '/').

const suffix6 = "/6"

// splitFamilies turns the probe specs (one per WAN, all of its targets,
// through its IPv4 device) into one per probed family, and keeps
// d.trackers6 to the WANs whose IPv6 side is probed on its own.
func (d *Daemon) splitFamilies(specs []monitor.Spec) []monitor.Spec {
	var out []monitor.Spec
	probed6 := map[string]bool{}
	for _, s := range specs {
		w, ok := d.cfg.WAN(s.WAN)
		if !ok {
			out = append(out, s)
			continue
		}
		has6, dev6, _ := d.side6(w)
		var t4, t6 []config.Target
		for _, t := range s.Targets {
			if t.Is6() {
				t6 = append(t6, t)
			} else {
				t4 = append(t4, t)
			}
		}
		if w.Detection == config.DetectAuto && has6 {
			t6 = probe.AutoTargets6()
		}
		switch {
		case len(t6) == 0:
			out = append(out, s)
		case len(t4) == 0:
			// IPv6 targets only: they judge the whole WAN, through the
			// IPv6 side's device when it has one.
			if has6 {
				s.Via.Device = dev6
			}
			out = append(out, s)
		case !has6:
			// No IPv6 side now: its targets would fail and take the
			// WAN down with them.
			s.Targets = t4
			out = append(out, s)
		default:
			s4, s6 := s, s
			s4.Targets = t4
			s6.WAN, s6.Targets, s6.Via.Device = s.WAN+suffix6, t6, dev6
			out = append(out, s4, s6)
			probed6[w.Name] = true
			d.ensureTracker6(w)
		}
	}
	for name, t := range d.trackers6 {
		if !probed6[name] {
			delete(d.trackers6, name)
			// Its side now follows the WAN's state: the plan must see
			// that even when nothing else changes (the repair tick).
			d.stale6 = d.stale6 || !t.Usable()
		}
	}
	return out
}

// ensureTracker6 gives w's IPv6 side a tracker with w's settings. A new
// one starts online when the link is up, as a WAN's does at start.
func (d *Daemon) ensureTracker6(w *config.WAN) {
	now := d.clock.Now()
	if t, ok := d.trackers6[w.Name]; ok {
		t.Reconfigure(tracker.SettingsFrom(w))
		return
	}
	if d.trackers6 == nil {
		d.trackers6 = map[string]*tracker.Tracker{}
	}
	t := tracker.New(tracker.SettingsFrom(w), tracker.Online, now)
	t.Carrier(d.carrier(w), now)
	d.trackers6[w.Name] = t
}

// tracker6 judges w's IPv6 side: its own when probed on its own, else the
// WAN's.
func (d *Daemon) tracker6(wan string) *tracker.Tracker {
	if t, ok := d.trackers6[wan]; ok {
		return t
	}
	return d.trackers[wan]
}

// state6 adds the IPv6 side's own state to the plan's view of w, after
// giving its tracker the WAN's carrier.
func (d *Daemon) state6(w *config.WAN, st *plan.WANState) {
	t, ok := d.trackers6[w.Name]
	if !ok {
		return
	}
	if ch, changed := t.Carrier(st.Carrier, d.clock.Now()); changed {
		d.logChange6(w.Name, ch)
	}
	st.Probed6, st.Online6 = true, t.Usable()
}

// onRound6 takes a round of an IPv6 side; false when m is not one.
func (d *Daemon) onRound6(m monitor.Round) bool {
	wan, ok := strings.CutSuffix(m.WAN, suffix6)
	if !ok {
		return false
	}
	t, ok := d.trackers6[wan]
	if !ok {
		return true
	}
	if d.probes6 == nil {
		d.probes6, d.probesOK6 = map[string]int{}, map[string]int{}
	}
	for _, r := range m.Round.Results {
		d.probes6[wan]++
		if r.OK {
			d.probesOK6[wan]++
		}
	}
	if ch, ok := t.Round(m.Round); ok {
		d.logChange6(wan, ch)
		d.replan(wan + " IPv6 " + string(ch.To))
	}
	return true
}

// logChange6 logs and counts a state change of a WAN's IPv6 side (judged
// on its own) and runs the hook with ACTION online6 or offline6: new
// actions, so that a hook written for the WAN's own state never takes
// the IPv6 side's for it.
func (d *Daemon) logChange6(wan string, ch tracker.Change) {
	d.log.Info(fmt.Sprintf("%s IPv6 %s after %s", wan, ch.To, ch.Reason))
	if d.stateChanges6 == nil {
		d.stateChanges6 = map[string]int{}
	}
	d.stateChanges6[wan]++
	w, ok := d.cfg.WAN(wan)
	if action := hookAction(ch.To); action != "" && ok {
		_, dev, _ := d.side6(w)
		d.runHook(action+"6", wan, dev, "ipv6")
	}
}
