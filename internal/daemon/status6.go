package daemon

import (
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/plan"
	"github.com/wanlb/wanlb/internal/webui"
)

// WAN6Status is the IPv6 side of a WAN in the status: the same five
// fields as the WAN's own (which describe IPv4), for IPv6.
type WAN6Status struct {
	State   string  `json:"state"`
	Active  bool    `json:"active"` // receives new IPv6 connections now
	Share   float64 `json:"share"`  // of new IPv6 connections
	RTTms   float64 `json:"rtt_ms"`
	LossPct float64 `json:"loss_pct"`
	Device  string  `json:"device,omitempty"`
	Gateway string  `json:"gateway,omitempty"`
	// Note says why the IPv6 side is not balanced although it is up:
	// the firewall does not translate it (see masq6.go).
	Note string `json:"note,omitempty"`
}

// status6 is w's IPv6 side for the status, nil when it has none.
func (d *Daemon) status6(w *config.WAN) *WAN6Status {
	has, dev, gw := d.side6(w)
	if !has {
		return nil
	}
	t := d.tracker6(w.Name)
	if t == nil {
		return nil
	}
	s := &WAN6Status{State: string(t.State()), Device: dev,
		RTTms: round2(float64(t.RTT()) / float64(time.Millisecond)), LossPct: round2(t.Loss()),
		Note: d.masq6.skip[w.Name]}
	if gw.IsValid() {
		s.Gateway = gw.String()
	}
	if d.prev != nil {
		s.Active, s.Share = member(d.prev.Default6, w.Name)
		for _, r := range d.prev.Rules {
			if a, _ := member(r.Group6, w.Name); a {
				s.Active = true
			}
		}
		s.Share = round2(s.Share)
	}
	return s
}

// member reports whether wan is in g and its share there.
func member(g plan.Group, wan string) (bool, float64) {
	if g.Action != plan.Balance {
		return false, 0
	}
	for _, m := range g.Members {
		if m.WAN == wan {
			return true, m.Share
		}
	}
	return false, 0
}

// metrics6 is w's IPv6 side for /metrics, nil when it has none.
func (d *Daemon) metrics6(w *config.WAN) *webui.WAN6Metrics {
	s := d.status6(w)
	if s == nil {
		return nil
	}
	t := d.tracker6(w.Name)
	return &webui.WAN6Metrics{State: s.State, Active: s.Active, Share: s.Share, RTTSeconds: t.RTT().Seconds(), LossRatio: t.Loss() / 100,
		StateChanges: d.stateChanges6[w.Name], Probes: d.probes6[w.Name], ProbesOK: d.probesOK6[w.Name]}
}
