package prefix6

import (
	"net/netip"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	p1 := netip.MustParsePrefix("2001:db8:31::1/64")
	p2 := netip.MustParsePrefix("2001:db8:32::1/64")
	a1 := Addr{Dev: "br-lan", Prefix: p1, Preferred: 3000, Valid: 7000, Out: "wan"}
	a2 := Addr{Dev: "br-lan", Prefix: p2, Preferred: Forever, Valid: Forever, Out: "wanb"}
	dep := func(a Addr) Addr { a.Preferred = 0; return a }
	tests := []struct {
		name      string
		addrs     []Addr
		dead      []string
		saved     map[netip.Prefix]Saved
		at        time.Duration
		want      map[netip.Prefix]uint32 // new preferred lifetimes
		wantSaved []netip.Prefix
	}{
		{name: "all alive: nothing", addrs: []Addr{a1, a2}},
		{name: "wan dead: its prefix deprecated", addrs: []Addr{a1, a2}, dead: []string{"wan"},
			want: map[netip.Prefix]uint32{p1: 0}, wantSaved: []netip.Prefix{p1}},
		{name: "still dead: nothing more", addrs: []Addr{dep(a1), a2}, dead: []string{"wan"},
			saved: map[netip.Prefix]Saved{p1: {3000, now}}, wantSaved: []netip.Prefix{p1}},
		{name: "netifd renewed it while dead: deprecated again", addrs: []Addr{{Dev: "br-lan", Prefix: p1, Preferred: 3600, Valid: 7200, Out: "wan"}, a2},
			dead: []string{"wan"}, saved: map[netip.Prefix]Saved{p1: {3000, now}},
			want: map[netip.Prefix]uint32{p1: 0}, wantSaved: []netip.Prefix{p1}},
		{name: "back: restored minus the time since", addrs: []Addr{dep(a1), a2}, saved: map[netip.Prefix]Saved{p1: {3000, now}},
			at: 1000 * time.Second, want: map[netip.Prefix]uint32{p1: 2000}},
		{name: "back after its preferred time ran out", addrs: []Addr{dep(a1)}, saved: map[netip.Prefix]Saved{p1: {3000, now}},
			at: time.Hour, want: map[netip.Prefix]uint32{p1: 0}},
		{name: "forever stays forever", addrs: []Addr{dep(a2)}, saved: map[netip.Prefix]Saved{p2: {Forever, now}},
			at: time.Hour, want: map[netip.Prefix]uint32{p2: Forever}},
		{name: "never more than valid", addrs: []Addr{{Dev: "br-lan", Prefix: p1, Valid: 100, Out: "wan"}}, saved: map[netip.Prefix]Saved{p1: {Forever, now}},
			want: map[netip.Prefix]uint32{p1: 100}},
		{name: "deprecated by someone else: left alone, not restored later", addrs: []Addr{dep(a1)}, dead: []string{"wan"}},
		{name: "no route claims it: restored", addrs: []Addr{{Dev: "br-lan", Prefix: p1, Valid: 7000}}, saved: map[netip.Prefix]Saved{p1: {3000, now}},
			want: map[netip.Prefix]uint32{p1: 3000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dead := map[string]bool{}
			for _, d := range tt.dead {
				dead[d] = true
			}
			changes, saved := Decide(tt.addrs, dead, tt.saved, now.Add(tt.at))
			got := map[netip.Prefix]uint32{}
			for _, c := range changes {
				got[c.Addr.Prefix] = c.Preferred
			}
			if len(got) != len(tt.want) {
				t.Errorf("changes %v, want %v", got, tt.want)
			}
			for p, w := range tt.want {
				if g, ok := got[p]; !ok || g != w {
					t.Errorf("%s: preferred %d (changed %v), want %d", p, g, ok, w)
				}
			}
			if len(saved) != len(tt.wantSaved) {
				t.Errorf("saved %v, want %v", saved, tt.wantSaved)
			}
			for _, p := range tt.wantSaved {
				if _, ok := saved[p]; !ok {
					t.Errorf("%s not saved", p)
				}
			}
		})
	}
}
