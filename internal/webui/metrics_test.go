package webui

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	// Off by default: 404, as for anything unknown.
	if w := h.do("GET", "/metrics", "", false); w.Code != http.StatusNotFound {
		t.Errorf("metrics off: %d", w.Code)
	}
	h.b.ui.Metrics = true
	h.b.ui.MetricsAllow = []netip.Prefix{netip.MustParsePrefix("198.18.1.0/30")}
	h.address = "198.18.1.9:5000" // outside the allow list, even with a session
	h.login("root", "secret")
	if w := h.do("GET", "/metrics", "", false); w.Code != http.StatusNotFound {
		t.Errorf("metrics from a client not allowed: %d", w.Code)
	}
	h.address, h.cookie = "198.18.1.2:5000", nil // allowed, no session needed
	w := h.do("GET", "/metrics", "", false)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	// Prometheus's own parser must read it.
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatalf("Prometheus cannot parse /metrics: %v\n%s", err, w.Body)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f, ok := families[name]
		if !ok {
			t.Fatalf("no family %s", name)
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
		t.Fatalf("%s%v not found", name, labels)
		return 0
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"wanlb_wan_state", map[string]string{"wan": "wan", "state": "online"}, 1},
		{"wanlb_wan_state", map[string]string{"wan": "wan", "state": "offline"}, 0},
		{"wanlb_wan_state", map[string]string{"wan": "wanb", "state": "offline"}, 1},
		{"wanlb_wan_share", map[string]string{"wan": "wan"}, 0.75},
		{"wanlb_wan_rtt_seconds", map[string]string{"wan": "wan"}, 0.012},
		{"wanlb_wan_loss_ratio", map[string]string{"wan": "wan"}, 0.05},
		{"wanlb_wan_receive_bytes_total", map[string]string{"wan": "wan"}, 1 << 40},
		{"wanlb_wan_state_changes_total", map[string]string{"wan": "wanb"}, 1},
		{"wanlb_wan_probes_ok_total", map[string]string{"wan": "wan"}, 114},
		{"wanlb_wan6_state", map[string]string{"wan": "wan", "state": "offline"}, 1},
		{"wanlb_wan6_state", map[string]string{"wan": "wan", "state": "online"}, 0},
		{"wanlb_wan6_active", map[string]string{"wan": "wan"}, 0},
		{"wanlb_wan6_rtt_seconds", map[string]string{"wan": "wan"}, 0.02},
		{"wanlb_wan6_loss_ratio", map[string]string{"wan": "wan"}, 1},
		{"wanlb_wan6_probes_ok_total", map[string]string{"wan": "wan"}, 50},
		{"wanlb_wan_offline_total", map[string]string{"wan": "wanb", "reason": "traffic"}, 1},
		{"wanlb_wan_offline_total", map[string]string{"wan": "wanb", "reason": "probes"}, 0},
		{"wanlb_wan_passive_suspicions_total", map[string]string{"wan": "wanb"}, 3},
		{"wanlb_wan_passive_cleared_total", map[string]string{"wan": "wanb"}, 2},
		{"wanlb_applies_total", nil, 3},
		{"wanlb_apply_seconds_total", nil, 0.042},
	}
	for _, c := range checks {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// A WAN without an IPv6 side has no wanlb_wan6_* samples.
	if strings.Contains(w.Body.String(), `wanlb_wan6_share{wan="wanb"}`) {
		t.Error("wanb has IPv6 metrics without an IPv6 side")
	}
}
