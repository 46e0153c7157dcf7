package daemon

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/probe"
	"github.com/wanlb/wanlb/internal/webui"
)

// dualWANs: two WANs, each probed over both families; the IPv6 side of
// wanN is on its own device 'wanNv6' (the fake prober answers by device).
var dualWANs = strings.NewReplacer("\tlist track '198.18.100.1'\n",
	"\tlist track '198.18.100.1'\n\tlist track '2001:db8:100::1'\n\toption gateway6 'fe80::1'\n",
	"option device 'wan1'\n", "option device 'wan1'\n\toption device6 'wan1v6'\n",
	"option device 'wan2'\n", "option device 'wan2'\n\toption device6 'wan2v6'\n").Replace(probedWANs)

// A WAN's IPv4 and IPv6 health are judged apart: dead IPv6 with working
// IPv4 moves the WAN's IPv6 only (and deletes its IPv6 connections only),
// and the status and metrics say so; recovery brings it back.
func TestLoopIPv6OwnHealth(t *testing.T) {
	h := startDaemon(t, dualWANs, nil)
	h.eventually("IPv6 balanced over both", func() bool { return len(h.dp.Last().Default6.Members) == 2 })
	wan1, _ := h.dp.Last().WAN("wan1")
	mark := h.dp.Last().MarkMask.Value(wan1.Mark)

	h.pr.kill("wan1v6", true)
	h.eventually("wan1's IPv6 side leaves the IPv6 group", func() bool {
		g := h.dp.Last().Default6
		return len(g.Members) == 1 && g.Members[0].WAN == "wan2"
	})
	if p := h.dp.Last(); len(p.Default.Members) != 2 || !h.usable("wan1") {
		t.Errorf("dead IPv6 took wan1's IPv4 too: %+v", p.Default)
	}
	h.eventually("wan1's IPv6 connections are deleted", func() bool { return slices.Equal(h.ct.Marks6(), []uint32{mark}) })
	if m := h.ct.Marks(); len(m) != 0 {
		t.Errorf("wan1's IPv4 connections deleted too: %v", m)
	}
	s := h.sync()
	w := s.WANs[0]
	if w.State != "online" || !w.Active || w.IPv6 == nil || w.IPv6.State != "offline" || w.IPv6.Active || w.IPv6.Share != 0 ||
		w.IPv6.LossPct == 0 || w.IPv6.Device != "wan1v6" {
		t.Errorf("status of wan1: %+v IPv6 %+v", w, w.IPv6)
	}
	if w2 := s.WANs[1]; w2.IPv6 == nil || w2.IPv6.State != "online" || w2.IPv6.Share != 1 || w2.IPv6.RTTms != 5 {
		t.Errorf("status of wan2's IPv6: %+v", w2.IPv6)
	}
	v, err := h.d.ask(t.Context(), request{kind: "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	if m6 := v.(webui.Metrics).WANs[0].IPv6; m6 == nil || m6.State != "offline" || m6.Probes == 0 || m6.ProbesOK >= m6.Probes || m6.StateChanges != 1 {
		t.Errorf("IPv6 metrics of wan1: %+v", m6)
	}

	h.pr.kill("wan1v6", false)
	h.eventually("wan1's IPv6 side is back", func() bool { return len(h.dp.Last().Default6.Members) == 2 })
	if s := h.sync(); s.WANs[0].IPv6.State != "online" || len(s.WANs[0].Changes) != 0 {
		t.Errorf("after recovery: %+v, IPv4 changes %v", s.WANs[0].IPv6, s.WANs[0].Changes)
	}

	// Dead IPv4 with working IPv6: the other way round.
	h.pr.kill("wan2", true)
	h.eventually("wan2's IPv4 leaves, its IPv6 stays", func() bool {
		p := h.dp.Last()
		return len(p.Default.Members) == 1 && p.Default.Members[0].WAN == "wan1" && len(p.Default6.Members) == 2
	})
}

// The probe specs by family: both families' targets make two probers, the
// IPv6 one through the IPv6 device; one family's targets make one; auto
// detection adds the built-in IPv6 targets when the WAN has an IPv6 side.
func TestSplitFamilies(t *testing.T) {
	names := func(ts []config.Target) string {
		var s []string
		for _, t := range ts {
			s = append(s, t.Raw)
		}
		return strings.Join(s, " ")
	}
	auto6 := names(probe.AutoTargets6())
	auto4 := names(probe.AutoTargets())
	tests := []struct {
		name, wan string
		want      []string // WAN via-device targets
	}{
		{"both families", "\toption gateway6 'fe80::1'\n\toption device6 'v6'\n\tlist track '198.18.0.1'\n\tlist track 'tcp://[2001:db8::1]:80'\n",
			[]string{"w dev 198.18.0.1", "w/6 v6 tcp://[2001:db8::1]:80"}},
		{"IPv4 only: the IPv6 side follows", "\toption gateway6 'fe80::1'\n\toption device6 'v6'\n\tlist track '198.18.0.1'\n",
			[]string{"w dev 198.18.0.1"}},
		{"IPv6 only: they judge the WAN, through the IPv6 device", "\toption gateway6 'fe80::1'\n\toption device6 'v6'\n\tlist track '2001:db8::1'\n",
			[]string{"w v6 2001:db8::1"}},
		{"no IPv6 side: IPv6 targets left out", "\tlist track '198.18.0.1'\n\tlist track '2001:db8::1'\n",
			[]string{"w dev 198.18.0.1"}},
		{"auto with an IPv6 side", "\toption detection 'auto'\n\toption gateway6 'fe80::1'\n",
			[]string{"w dev " + auto4, "w/6 dev " + auto6}},
		{"auto without", "\toption detection 'auto'\n\toption ipv6 'off'\n\toption gateway6 'fe80::1'\n", []string{"w dev " + auto4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uci := "config wan 'w'\n\toption device 'dev'\n\toption gateway '198.18.11.1'\n"
			if !strings.Contains(tt.wan, "detection") {
				uci += "\toption detection 'manual'\n"
			}
			d, _, _ := testDaemon(t, t.TempDir(), uci+tt.wan)
			d.replan("start")
			var got []string
			for _, s := range d.probeSpecs() {
				got = append(got, s.WAN+" "+s.Via.Device+" "+names(s.Targets))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("specs\n%q\nwant\n%q", got, tt.want)
			}
			if _, ok := d.trackers6["w"]; ok != (len(tt.want) == 2) {
				t.Errorf("IPv6 tracker %v", ok)
			}
		})
	}
}

// sidesSnapshot names the WANs and their IPv6 sides in the status.
func (d *Daemon) sidesSnapshot() []string {
	v, err := d.ask(context.Background(), request{kind: "status"})
	if err != nil {
		return nil
	}
	var out []string
	for _, w := range v.(Status).WANs {
		out = append(out, w.Name)
		if w.IPv6 != nil {
			out = append(out, w.Name+suffix6)
		}
	}
	return out
}

// A reload that takes the IPv6 targets away from a WAN whose IPv6 side was
// offline: the side follows the WAN's (online) state again, without
// waiting for another state change.
func TestLoopIPv6TargetsRemoved(t *testing.T) {
	h := startDaemon(t, dualWANs, nil)
	h.pr.kill("wan1v6", true)
	h.eventually("wan1's IPv6 side out", func() bool { return len(h.dp.Last().Default6.Members) == 1 })
	h.writeConfig(strings.Replace(dualWANs, "\tlist track '2001:db8:100::1'\n", "", 1))
	if _, err := h.client().Reload(); err != nil {
		t.Fatal(err)
	}
	h.advance(RepairInterval)
	h.eventually("wan1's IPv6 side back, following its IPv4", func() bool { return len(h.dp.Last().Default6.Members) == 2 })
}
