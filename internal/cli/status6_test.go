package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/daemon"
)

// `wanlb status` shows a WAN's IPv6 side on a row of its own under it,
// and says why a side is not balanced.
func TestStatus6Text(t *testing.T) {
	s := daemon.Status{WANs: []daemon.WANStatus{
		{Name: "wan", IPv6: &daemon.WAN6Status{State: "offline", RTTms: 0, LossPct: 100, Device: "pppoe-wan", Gateway: "fe80::1"}},
		{Name: "wanb", IPv6: &daemon.WAN6Status{State: "online", Active: true, Share: 1, RTTms: 12.5, Device: "eth2"}},
		{Name: "lte", IPv6: &daemon.WAN6Status{State: "online", Note: "interface 'lte6' ... masq6 '1'"}},
		{Name: "dsl"},
	}}
	var b bytes.Buffer
	for _, w := range s.WANs {
		status6Row(&b, w)
	}
	status6Notes(&b, s)
	want := []string{
		"  IPv6\toffline\t-\t0.00\t0.0 ms\t100%\t\tpppoe-wan\tfe80::1\n",
		"  IPv6\tonline\tactive\t1.00\t12.5 ms\t0%\t\teth2\t\n",
		"lte: IPv6 not balanced: interface 'lte6' ... masq6 '1'\n",
	}
	for _, w := range want {
		if !strings.Contains(b.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, b.String())
		}
	}
	if strings.Count(b.String(), "  IPv6") != 3 {
		t.Errorf("want 3 IPv6 rows (none for dsl):\n%s", b.String())
	}
}
