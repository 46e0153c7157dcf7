package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/fwzone"
	"github.com/wanlb/wanlb/internal/plan"
)

// Which WANs' IPv6 sides are left out of balancing, by firewall config.
func TestMasq6Skips(t *testing.T) {
	wans := "config wan 'wan'\nconfig wan 'wanb'\n\toption interface6 'wanb_6'\nconfig wan 'lte'\n\toption ipv6 'off'\n" +
		"config wan 'nat66'\n\toption ipv6 'on'\n"
	zone := func(name, networks, extra string) string {
		return "config zone\n\toption name '" + name + "'\n\tlist network '" + networks + "'\n" + extra
	}
	stock := zone("lan", "lan", "") + zone("wan", "wan wan6 wanb nat66 nat666", "\toption masq '1'\n")
	tests := []struct {
		name, mode, firewall string
		missing              bool
		want                 map[string]string // WAN: part of the reason
	}{
		{name: "no firewall config: the admin translates", missing: true, want: map[string]string{}},
		{name: "stock OpenWrt firewall: no masq6", firewall: stock,
			want: map[string]string{"wan": "zone 'wan' without IPv6 masquerading", "wanb": "zone 'wan' without IPv6 masquerading"}},
		{name: "masq6 on the wan zone", firewall: zone("wan", "wan wan6 wanb", "\toption masq6 '1'\n"), want: map[string]string{}},
		{name: "interface6 in no zone, the WAN's in one with masq6", firewall: zone("wan", "wan wanb", "\toption masq6 '1'\n"), want: map[string]string{}},
		{name: "in no zone at all", firewall: zone("lan", "lan", ""),
			want: map[string]string{"wan": "in no firewall zone", "wanb": "in no firewall zone"}},
		{name: "second zone without masq6", firewall: zone("wan", "wan wan6", "\toption masq6 '1'\n") + zone("wanb", "wanb", ""),
			want: map[string]string{"wanb": "'wanb_6' (its IPv6 side) is in firewall zone 'wanb'"}},
		{name: "routed mode needs no translation", mode: "routed", firewall: stock, want: map[string]string{}},
		{name: "unreadable", firewall: "config zone\n\toption name 'wan\n",
			want: map[string]string{"wan": "cannot be read", "wanb": "cannot be read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			g := ""
			if tt.mode != "" {
				g = "config globals 'globals'\n\toption ipv6_mode '" + tt.mode + "'\n"
			}
			os.WriteFile(filepath.Join(dir, "wanlb"), []byte(g+wans), 0o644)
			if !tt.missing {
				os.WriteFile(filepath.Join(dir, "firewall"), []byte(tt.firewall), 0o644)
			}
			c, ps, err := config.Load(dir)
			if err != nil || c == nil {
				t.Fatalf("config: %v %v", err, ps)
			}
			zones, err := fwzone.Read(filepath.Join(dir, "firewall"))
			if tt.missing && !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("read: %v", err)
			}
			got := masq6Skips(c, zones, err)
			if len(got) != len(tt.want) {
				t.Errorf("left out %v, want %v", got, tt.want)
			}
			for wan, part := range tt.want {
				if !strings.Contains(got[wan], part) {
					t.Errorf("%s: %q, want it to say %q", wan, got[wan], part)
				}
				if got[wan] != "" && !strings.Contains(got[wan], "masq6 '1'") && !strings.Contains(got[wan], "cannot be read") {
					t.Errorf("%s: %q does not say how to fix it", wan, got[wan])
				}
			}
		})
	}
}

// The loop: with the stock firewall (no masq6) the IPv6 sides stay in the
// main table and the status says why; once masq6 is added, the repair tick
// (or a firewall reload's nftables commit) balances them.
func TestLoopMasq6(t *testing.T) {
	wans := strings.Replace(twoWANs, "option gateway '198.18.11.1'\n", "option gateway '198.18.11.1'\n\toption gateway6 'fe80::1'\n", 1)
	wans = strings.Replace(wans, "option gateway '198.18.12.1'\n", "option gateway '198.18.12.1'\n\toption gateway6 'fe80::1'\n", 1)
	fw := "config zone\n\toption name 'wan'\n\tlist network 'wan1'\n\tlist network 'wan2'\n\toption masq '1'\n"
	h := startDaemon(t, wans, func(h *harness, _ *Kernel) {
		os.WriteFile(filepath.Join(h.cfg, "firewall"), []byte(fw), 0o644)
	})
	if p := h.dp.Last(); p.Default6.Action != plan.Main {
		t.Fatalf("without masq6 the IPv6 default group is %+v, want main", p.Default6)
	}
	s := h.sync()
	for _, w := range s.WANs {
		if w.IPv6 == nil || w.IPv6.Active || !strings.Contains(w.IPv6.Note, "without IPv6 masquerading") {
			t.Errorf("%s: IPv6 status %+v, want inactive with a note", w.Name, w.IPv6)
		}
	}
	os.WriteFile(filepath.Join(h.cfg, "firewall"), []byte(fw+"\toption masq6 '1'\n"), 0o644)
	h.dp.Changed() // as fw4's reload commits to nftables
	h.eventually("IPv6 balanced once the firewall masquerades it", func() bool {
		return len(h.dp.Last().Default6.Members) == 2
	})
	s = h.sync()
	for _, w := range s.WANs {
		if w.IPv6 == nil || !w.IPv6.Active || w.IPv6.Share != 0.5 || w.IPv6.Note != "" {
			t.Errorf("%s: IPv6 status %+v, want active, half, no note", w.Name, w.IPv6)
		}
	}
}
