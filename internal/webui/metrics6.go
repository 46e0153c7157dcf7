package webui

import (
	"fmt"
	"strings"
)

// WAN6Metrics are the numbers of a WAN's IPv6 side: the same as the
// WAN's own (which describe IPv4), for IPv6.
type WAN6Metrics struct {
	State        string
	Active       bool
	Share        float64 // of new IPv6 connections
	RTTSeconds   float64
	LossRatio    float64
	StateChanges int // of the IPv6 side's own state, when probed on its own
	Probes       int
	ProbesOK     int
}

// text6 renders the wanlb_wan6_* families into b, for the WANs with an
// IPv6 side.
func (m Metrics) text6(b *strings.Builder, family func(name, typ, help string, samples func())) {
	perWAN6 := func(name, typ, help string, value func(w *WAN6Metrics) float64) {
		family(name, typ, help, func() {
			for _, w := range m.WANs {
				if w.IPv6 != nil {
					fmt.Fprintf(b, "%s{wan=%q} %g\n", name, w.Name, value(w.IPv6))
				}
			}
		})
	}
	family("wanlb_wan6_state", "gauge", "1 for the current state of the WAN's IPv6 side.", func() {
		for _, w := range m.WANs {
			if w.IPv6 == nil {
				continue
			}
			for _, st := range states {
				v := 0
				if w.IPv6.State == st {
					v = 1
				}
				fmt.Fprintf(b, "wanlb_wan6_state{wan=%q,state=%q} %d\n", w.Name, st, v)
			}
		}
	})
	perWAN6("wanlb_wan6_active", "gauge", "1 when the WAN's IPv6 side receives new IPv6 connections.", func(w *WAN6Metrics) float64 {
		if w.Active {
			return 1
		}
		return 0
	})
	perWAN6("wanlb_wan6_share", "gauge", "Share of new IPv6 connections (0..1).", func(w *WAN6Metrics) float64 { return w.Share })
	perWAN6("wanlb_wan6_rtt_seconds", "gauge", "Median IPv6 probe round-trip time of the last round.", func(w *WAN6Metrics) float64 { return w.RTTSeconds })
	perWAN6("wanlb_wan6_loss_ratio", "gauge", "IPv6 probe loss over the recent window (0..1).", func(w *WAN6Metrics) float64 { return w.LossRatio })
	perWAN6("wanlb_wan6_state_changes_total", "counter", "State changes of the IPv6 side probed on its own.", func(w *WAN6Metrics) float64 { return float64(w.StateChanges) })
	perWAN6("wanlb_wan6_probes_total", "counter", "IPv6 probes sent by the IPv6 side's own prober.", func(w *WAN6Metrics) float64 { return float64(w.Probes) })
	perWAN6("wanlb_wan6_probes_ok_total", "counter", "Of those, answered in time.", func(w *WAN6Metrics) float64 { return float64(w.ProbesOK) })
}
