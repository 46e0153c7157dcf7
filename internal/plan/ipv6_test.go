package plan

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/wanlb/wanlb/internal/config"
)

// v6 gives the named WANs of c an IPv6 side in states s.
func v6(c *config.Config, s map[string]WANState, names ...string) {
	for i := range c.WANs {
		c.WANs[i].IPv6 = true
	}
	for _, n := range names {
		w := s[n]
		w.Has6, w.Device6, w.Gateway6 = true, w.Device, netip.MustParseAddr("fe80::1")
		s[n] = w
	}
}

// probed6 gives the named WANs' IPv6 sides a state of their own: online
// or not.
func probed6(s map[string]WANState, online map[string]bool) {
	for n, on := range online {
		w := s[n]
		w.Probed6, w.Online6 = true, on
		s[n] = w
	}
}

// IPv6 is balanced over the WANs with an IPv6 side, and fails over with
// their state exactly as IPv4 does.
func TestIPv6Groups(t *testing.T) {
	tests := []struct {
		name       string
		wans       []string
		states     []string
		has6       []string
		lastResort config.LastResort
		rules      []config.Rule
		want4      string
		want6      string
		wantRules6 []string
	}{
		{name: "no IPv6 uplink: main", wans: []string{"w1:3", "w2:1"}, states: []string{"w1", "w2"},
			lastResort: config.LastResortUnreachable, want4: "w1=0.75 w2=0.25", want6: "main",
			rules: []config.Rule{{ID: "r", Enabled: true, WANs: []string{"w2"}}}, wantRules6: []string{"main"}},
		{name: "both", wans: []string{"w1:3", "w2:1"}, states: []string{"w1", "w2"}, has6: []string{"w1", "w2"},
			want4: "w1=0.75 w2=0.25", want6: "w1=0.75 w2=0.25"},
		{name: "one has IPv6", wans: []string{"w1:3", "w2:1"}, states: []string{"w1", "w2"}, has6: []string{"w2"},
			want4: "w1=0.75 w2=0.25", want6: "w2=1.00"},
		{name: "only IPv6 WAN offline: kept while it has carrier, as IPv4 would", wans: []string{"w1", "w2"}, states: []string{"w1", "-w2"}, has6: []string{"w2"},
			lastResort: config.LastResortUnreachable, want4: "w1=1.00", want6: "w2=1.00"},
		{name: "IPv6 WAN without carrier", wans: []string{"w1", "w2"}, states: []string{"w1", "!w2"}, has6: []string{"w2"},
			lastResort: config.LastResortUnreachable, want4: "w1=1.00", want6: "unreachable"},
		{name: "failover", wans: []string{"w1:3", "w2:1"}, states: []string{"-w1", "w2"}, has6: []string{"w1", "w2"},
			want4: "w2=1.00", want6: "w2=1.00"},
		{name: "rules", wans: []string{"w1", "w2"}, states: []string{"w1", "w2"}, has6: []string{"w1"},
			rules: []config.Rule{
				{ID: "a", Enabled: true, WANs: []string{"w2"}, Fallback: true},
				{ID: "b", Enabled: true, WANs: []string{"w2"}},
				{ID: "c", Enabled: true, WANs: []string{"w1", "w2"}},
			},
			want4: "w1=0.50 w2=0.50", want6: "w1=1.00", wantRules6: []string{"w1=1.00", "blackhole", "w1=1.00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg(tt.wans...)
			if tt.lastResort != "" {
				c.Globals.LastResort = tt.lastResort
			}
			c.Rules = tt.rules
			s := st(tt.states...)
			v6(c, s, tt.has6...)
			p := Compute(Input{Config: c, States: s, Now: monday})
			if got := shares(p.Default); got != tt.want4 {
				t.Errorf("IPv4 default = %s, want %s", got, tt.want4)
			}
			if got := shares(p.Default6); got != tt.want6 {
				t.Errorf("IPv6 default = %s, want %s", got, tt.want6)
			}
			for i, w := range tt.wantRules6 {
				if got := shares(p.Rules[i].Group6); got != w {
					t.Errorf("rule %d IPv6 = %s, want %s", i, got, w)
				}
			}
			for _, w := range p.WANs {
				want := false
				for _, n := range tt.has6 {
					want = want || n == w.Name
				}
				if w.Has6 != want || (want && (w.Device6 == "" || !w.Gateway6.IsValid())) {
					t.Errorf("%s: Has6 %v dev6 %q gw6 %v", w.Name, w.Has6, w.Device6, w.Gateway6)
				}
			}
		})
	}
}

// In routed mode IPv6 is left to the main table's source-specific routes.
func TestIPv6Routed(t *testing.T) {
	c := cfg("w1", "w2")
	c.Globals.IPv6Mode = config.IPv6Routed
	c.Rules = []config.Rule{{ID: "r", Enabled: true, WANs: []string{"w2"}}}
	s := st("w1", "w2")
	v6(c, s, "w1", "w2")
	p := Compute(Input{Config: c, States: s, Now: monday})
	if shares(p.Default6) != "main" || shares(p.Rules[0].Group6) != "main" {
		t.Errorf("routed: IPv6 default %s, rule %s; want main", shares(p.Default6), shares(p.Rules[0].Group6))
	}
	if !p.WANs[0].Has6 || shares(p.Default) != "w1=0.50 w2=0.50" {
		t.Errorf("routed mode changed the IPv4 plan or dropped the IPv6 sides: %+v", p)
	}
}

// ipv6 'off' keeps a WAN's IPv6 side out even when netifd has one.
func TestIPv6Off(t *testing.T) {
	c := cfg("w1", "w2")
	s := st("w1", "w2")
	v6(c, s, "w1", "w2")
	c.WANs[0].IPv6 = false
	p := Compute(Input{Config: c, States: s, Now: monday})
	if p.WANs[0].Has6 || shares(p.Default6) != "w2=1.00" {
		t.Errorf("w1 Has6 %v, IPv6 default %s", p.WANs[0].Has6, shares(p.Default6))
	}
}

// A WAN's IPv6 side probed on its own has its own state: dead IPv6 with
// working IPv4 moves IPv6 only; dead IPv4 with working IPv6 moves IPv4
// only. Unprobed, it follows the WAN's IPv4 state.
func TestIPv6OwnState(t *testing.T) {
	tests := []struct {
		name         string
		states       []string
		probed6      map[string]bool // WAN: its IPv6 side online
		want4, want6 string
		usable6      []bool
	}{
		{name: "w1's IPv6 dead, its IPv4 fine", states: []string{"w1", "w2"}, probed6: map[string]bool{"w1": false, "w2": true},
			want4: "w1=0.50 w2=0.50", want6: "w2=1.00", usable6: []bool{false, true}},
		{name: "w1's IPv4 dead, its IPv6 fine", states: []string{"-w1", "w2"}, probed6: map[string]bool{"w1": true, "w2": true},
			want4: "w2=1.00", want6: "w1=0.50 w2=0.50", usable6: []bool{true, true}},
		{name: "unprobed IPv6 follows IPv4", states: []string{"-w1", "w2"},
			want4: "w2=1.00", want6: "w2=1.00", usable6: []bool{false, true}},
		{name: "no carrier: IPv6 online does not help", states: []string{"!w1", "w2"}, probed6: map[string]bool{"w1": true, "w2": true},
			want4: "w2=1.00", want6: "w2=1.00", usable6: []bool{false, true}},
		{name: "both IPv6 sides dead: kept on carrier, as IPv4 would", states: []string{"w1", "w2"}, probed6: map[string]bool{"w1": false, "w2": false},
			want4: "w1=0.50 w2=0.50", want6: "w1=0.50 w2=0.50", usable6: []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg("w1", "w2")
			s := st(tt.states...)
			v6(c, s, "w1", "w2")
			probed6(s, tt.probed6)
			p := Compute(Input{Config: c, States: s, Now: monday})
			if got := shares(p.Default); got != tt.want4 {
				t.Errorf("IPv4 default = %s, want %s", got, tt.want4)
			}
			if got := shares(p.Default6); got != tt.want6 {
				t.Errorf("IPv6 default = %s, want %s", got, tt.want6)
			}
			for i, w := range p.WANs {
				if w.Usable6 != tt.usable6[i] {
					t.Errorf("%s: Usable6 %v, want %v", w.Name, w.Usable6, tt.usable6[i])
				}
			}
		})
	}
}

// A WAN's IPv6 resolvers are pinned to it by its IPv6 side's state, apart
// from its IPv4 ones: a WAN with dead IPv6 keeps its IPv4 resolvers pinned
// and lets queries to its IPv6 ones leave by another WAN. In routed mode
// IPv6 resolvers are never pinned (the query's source prefix decides).
func TestIPv6DNSPinnedByItsSide(t *testing.T) {
	r4, r6 := netip.MustParseAddr("198.18.100.53"), netip.MustParseAddr("2001:db8:100::53")
	tests := []struct {
		name    string
		states  []string
		probed6 map[string]bool
		no6     bool // w1 has no IPv6 side
		routed  bool
		want    string // w1's pinned resolvers
	}{
		{name: "both sides online", states: []string{"w1", "w2"}, want: "[198.18.100.53 2001:db8:100::53]"},
		{name: "IPv6 dead, IPv4 fine", states: []string{"w1", "w2"}, probed6: map[string]bool{"w1": false, "w2": true}, want: "[198.18.100.53]"},
		{name: "IPv4 dead, IPv6 fine", states: []string{"-w1", "w2"}, probed6: map[string]bool{"w1": true, "w2": true}, want: "[2001:db8:100::53]"},
		{name: "both dead", states: []string{"-w1", "w2"}, want: "[]"},
		{name: "no IPv6 side", states: []string{"w1", "w2"}, no6: true, want: "[198.18.100.53]"},
		{name: "routed mode", states: []string{"w1", "w2"}, routed: true, want: "[198.18.100.53]"},
		{name: "IPv6 the last resort: pinned", states: []string{"w1", "w2"}, probed6: map[string]bool{"w1": false, "w2": false},
			want: "[198.18.100.53 2001:db8:100::53]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg("w1", "w2")
			if tt.routed {
				c.Globals.IPv6Mode = config.IPv6Routed
			}
			s := st(tt.states...)
			if tt.no6 {
				v6(c, s, "w2")
			} else {
				v6(c, s, "w1", "w2")
			}
			probed6(s, tt.probed6)
			w1 := s["w1"]
			w1.DNS = []netip.Addr{r4, r6}
			s["w1"] = w1
			p := Compute(Input{Config: c, States: s, Now: monday})
			if got := fmt.Sprint(p.WANs[0].DNS); got != tt.want {
				t.Errorf("w1 pins %s, want %s", got, tt.want)
			}
		})
	}
}
