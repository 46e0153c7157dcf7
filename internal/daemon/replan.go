package daemon

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/wanlb/wanlb/internal/netifd"
	"github.com/wanlb/wanlb/internal/plan"
)

// states is the plan's view of every WAN now.
func (d *Daemon) states() map[string]plan.WANState {
	d.refreshMasq6()
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
		st := plan.WANState{
			Device:  dev,
			Gateway: gw,
			Carrier: d.carrier(w),
			Online:  d.trackers[w.Name].Usable(),
			DNS:     wanDNS(ifc, d.ifaces6[w.Name]),
		}
		st.Has6, st.Device6, st.Gateway6 = d.side6(w)
		d.state6(w, &st)
		if d.masq6.skip[w.Name] != "" {
			st.Has6 = false // see masq6.go
		}
		out[w.Name] = st
	}
	return out
}

// wanDNS is a WAN's resolvers: those netifd reports on its interface and
// the IPv6 ones of its IPv6 interface (wan6 reports the ISP's DHCPv6 and
// RA resolvers), each once.
func wanDNS(ifc, ifc6 netifd.Interface) []netip.Addr {
	out := slices.Clone(ifc.DNS)
	for _, a := range ifc6.DNS {
		if a.Is6() && !slices.Contains(out, a) {
			out = append(out, a)
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
	now := d.clock.Now()
	p := plan.Compute(plan.Input{Config: d.cfg, States: d.states(), Prev: d.prev, Marks: d.adopted, Now: now})
	d.prev = p
	// The state file (link backup memory, fsync'd) is written once the
	// kernel has the plan: a lost carrier's new rules must not wait for
	// a disk.
	defer d.saveEngaged(p)
	// The apply's duration is measured on the system clock: it is a
	// figure for /metrics, not a decision.
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
	d.deleteConntrack6(d.applied, p)
	d.steer6(p)
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
		d.schedule = d.clock.NewTimer(next.Sub(now))
	}
}

// repair restores wanlb's kernel state when someone else removed or
// changed it: `fw4 flush` (what /etc/init.d/firewall stop runs), `nft
// flush ruleset`, `nft delete table inet wanlb`, an iptables restart. It
// runs on the repair tick and, with the nftables backend, on every commit
// of another process; the check is cheap (a generation number over
// netlink while nothing changed), the re-apply one transaction.
func (d *Daemon) repair() {
	d.steer6(d.applied) // netifd may have renewed a deprecated prefix
	if d.refreshMasq6() || d.stale6 {
		d.stale6 = false
		d.replan("firewall config or IPv6 probing changed")
		return
	}
	if d.desired == nil || d.kernel.DataPlane.Intact(d.desired) {
		return
	}
	d.log.Warn("wanlb's rules were removed or changed by someone else (firewall restart?); restoring them")
	d.kernel.DataPlane.RequestFullSync()
	d.replan("repair")
}
