package webui

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v5"
)

// Metrics is the daemon's numbers for GET /metrics.
type Metrics struct {
	WANs          []WANMetrics
	Applies       int     // applies that changed the kernel
	ApplySeconds  float64 // their total duration
	ApplyFailures int
}

// WANMetrics are one WAN's numbers.
type WANMetrics struct {
	Name         string
	State        string // online, offline, connecting, disconnecting, disabled
	Active       bool
	Share        float64
	RTTSeconds   float64
	LossRatio    float64 // 0..1 over the tracker's window
	RxBytes      uint64
	TxBytes      uint64
	StateChanges int
	Probes       int // probes sent
	ProbesOK     int // probes answered in time
	// IPv6 is the WAN's IPv6 side, nil when it has none (metrics6.go).
	IPv6 *WAN6Metrics
	// Offline counts the WAN's transitions to offline by cause: probes,
	// traffic, carrier.
	Offline map[string]int
	// Suspicions: times its own traffic went unanswered for the passive
	// window; Cleared: those a probe burst answered (no change).
	Suspicions, Cleared int
}

// offlineCauses are the values of the reason label, always all shown.
var offlineCauses = []string{"probes", "traffic", "carrier"}

var states = []string{"online", "offline", "connecting", "disconnecting", "disabled"}

// metrics serves the Prometheus text format to the addresses ui.metrics_allow
// lists, without a session: scrapers do not log in. Everyone else gets 404,
// as when metrics are off, so the endpoint's existence is not revealed.
func (s *Server) metrics(c *echo.Context) error {
	ui := s.backend.UI()
	client, err := netip.ParseAddr(c.RealIP())
	allowed := false
	for _, p := range ui.MetricsAllow {
		allowed = allowed || (err == nil && p.Contains(client.Unmap()))
	}
	if !ui.Metrics || !allowed {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	m, err := s.backend.Metrics(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, err = c.Response().Write([]byte(m.Text()))
	return err
}

// Text renders m in the Prometheus text exposition format.
func (m Metrics) Text() string {
	var b strings.Builder
	family := func(name, typ, help string, samples func()) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		samples()
	}
	perWAN := func(name, typ, help string, value func(w WANMetrics) float64) {
		family(name, typ, help, func() {
			for _, w := range m.WANs {
				fmt.Fprintf(&b, "%s{wan=%q} %g\n", name, w.Name, value(w))
			}
		})
	}
	family("wanlb_wan_state", "gauge", "1 for the WAN's current state.", func() {
		for _, w := range m.WANs {
			for _, st := range states {
				v := 0
				if w.State == st {
					v = 1
				}
				fmt.Fprintf(&b, "wanlb_wan_state{wan=%q,state=%q} %d\n", w.Name, st, v)
			}
		}
	})
	perWAN("wanlb_wan_active", "gauge", "1 when the WAN receives new connections.", func(w WANMetrics) float64 {
		if w.Active {
			return 1
		}
		return 0
	})
	perWAN("wanlb_wan_share", "gauge", "Share of new connections (0..1).", func(w WANMetrics) float64 { return w.Share })
	perWAN("wanlb_wan_rtt_seconds", "gauge", "Median probe round-trip time of the last round.", func(w WANMetrics) float64 { return w.RTTSeconds })
	perWAN("wanlb_wan_loss_ratio", "gauge", "Probe loss over the recent window (0..1).", func(w WANMetrics) float64 { return w.LossRatio })
	perWAN("wanlb_wan_receive_bytes_total", "counter", "Bytes received on the WAN's device.", func(w WANMetrics) float64 { return float64(w.RxBytes) })
	perWAN("wanlb_wan_transmit_bytes_total", "counter", "Bytes sent on the WAN's device.", func(w WANMetrics) float64 { return float64(w.TxBytes) })
	perWAN("wanlb_wan_state_changes_total", "counter", "State changes since the daemon started.", func(w WANMetrics) float64 { return float64(w.StateChanges) })
	perWAN("wanlb_wan_probes_total", "counter", "Probes sent.", func(w WANMetrics) float64 { return float64(w.Probes) })
	perWAN("wanlb_wan_probes_ok_total", "counter", "Probes answered in time.", func(w WANMetrics) float64 { return float64(w.ProbesOK) })
	m.text6(&b, family)
	family("wanlb_wan_offline_total", "counter", "Transitions to offline, by why: probes, traffic, carrier.", func() {
		for _, w := range m.WANs {
			for _, c := range offlineCauses {
				fmt.Fprintf(&b, "wanlb_wan_offline_total{wan=%q,reason=%q} %d\n", w.Name, c, w.Offline[c])
			}
		}
	})
	perWAN("wanlb_wan_passive_suspicions_total", "counter", "Times the WAN's traffic went unanswered for the passive window.", func(w WANMetrics) float64 { return float64(w.Suspicions) })
	perWAN("wanlb_wan_passive_cleared_total", "counter", "Suspicions a probe burst answered.", func(w WANMetrics) float64 { return float64(w.Cleared) })
	family("wanlb_applies_total", "counter", "Applies that changed the kernel.", func() { fmt.Fprintf(&b, "wanlb_applies_total %d\n", m.Applies) })
	family("wanlb_apply_seconds_total", "counter", "Time spent in those applies.", func() { fmt.Fprintf(&b, "wanlb_apply_seconds_total %g\n", m.ApplySeconds) })
	family("wanlb_apply_failures_total", "counter", "Applies the kernel refused.", func() { fmt.Fprintf(&b, "wanlb_apply_failures_total %d\n", m.ApplyFailures) })
	return b.String()
}
