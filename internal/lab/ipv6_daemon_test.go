package lab_test

// The real daemon with IPv6 in translated mode: a blackholed WAN (both
// families dropped, links up) goes offline on its IPv4 probes and new IPv6
// connections move to the other WAN; they come back on recovery. Once with
// the lab's own masquerade6, once on a router running OpenWrt's fw4 with
// masq6 on its wan zone.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
)

const gateway6 = "\toption gateway6 'fe80::1'\n"

func TestIPv6DaemonFailover(t *testing.T) {
	t.Run("lab masquerade6", func(t *testing.T) {
		labtest.RequireRoot(t)
		l := newLab(t, lab.Options{ISPs: 2, IPv6: true, ConnectTimeout: time.Second})
		// wan2 is watched through IPv6 targets only (ICMPv6 echo and
		// TCP), marked and bound to it like IPv4 probes: it is online only
		// if they work, and goes offline when its ISP is blackholed.
		targets6 := "\toption detection 'manual'\n\tlist track '2001:db8:100::1'\n\tlist track 'tcp://[2001:db8:100::1]:80'\n"
		d := startDaemon(t, l, labWANs(l, map[int]string{1: targets + gateway6, 2: targets6 + gateway6}))
		d.waitAllOnline(15 * time.Second)
		ipv6Failover(t, l, d)
		if err := l.Blackhole(2); err != nil {
			t.Fatal(err)
		}
		d.waitState("wan2", "offline", 10*time.Second)
		if c := count6(t, l, l.Client, 20); c[1] != 20 {
			t.Errorf("with wan2 offline on its IPv6 probes, new IPv6 connections went %v", c)
		}
		if err := l.Heal(2); err != nil {
			t.Fatal(err)
		}
		d.waitState("wan2", "online", 15*time.Second)
		// The IPv6 ip rules are checked like IPv4's: one removed by
		// someone else is restored.
		if _, err := l.Exec(l.Router, "ip", "-6", "rule", "del", "pref", "6000"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, _ := l.Exec(l.Router, "ip", "-6", "rule")
			if strings.Contains(out, "6000:\tfrom all lookup main suppress_prefixlength 0") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the IPv6 suppress rule was not restored:\n%s", out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("fw4 masq6", func(t *testing.T) {
		l := newFW4Lab(t, lab.Options{ISPs: 2, IPv6: true})
		rs, err := l.Exec(l.Router, "nft", "list", "table", "inet", "fw4")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rs, `masquerade comment "!fw4: Masquerade IPv6 wan traffic"`) {
			t.Fatalf("fw4 does not masquerade IPv6:\n%s", rs)
		}
		// wanlb check reads the same firewall config: no masq6 warning,
		// and one once masq6 is gone from it.
		fw, err := os.ReadFile(filepath.Join(l.FW4ConfigDir(), "firewall"))
		if err != nil {
			t.Fatal(err)
		}
		bin, err := buildOnce()
		if err != nil {
			t.Fatal(err)
		}
		check := func(firewall string) string {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "wanlb"), []byte(fw4WANs(l, gateway6)), 0o644)
			os.WriteFile(filepath.Join(dir, "firewall"), []byte(firewall), 0o644)
			out, err := l.Exec(l.Router, bin, "--config-dir", dir, "check")
			if err != nil {
				t.Fatalf("wanlb check: %v\n%s", err, out)
			}
			return out
		}
		if out := check(string(fw)); strings.Contains(out, "masq6") {
			t.Errorf("wanlb check warns about masq6 on fw4's config with masq6:\n%s", out)
		}
		out := check(strings.ReplaceAll(string(fw), "\toption masq6 '1'\n", ""))
		for _, wan := range []string{"wan1", "wan2"} {
			if !strings.Contains(out, "wanlb."+wan+".ipv6: warning: interface '"+wan+"6' (the IPv6 side) is in no firewall zone with IPv6 masquerading") {
				t.Errorf("wanlb check does not warn that %s lacks masq6:\n%s", wan, out)
			}
		}

		d := startFW4Daemon(t, l, fw4WANs(l, gateway6))
		ipv6Failover(t, l, d)
	})
}

// ipv6Failover blackholes ISP 1 and heals it, checking where new IPv6
// connections go.
func ipv6Failover(t *testing.T, l *lab.Lab, d *daemonRun) {
	t.Helper()
	if c := count6(t, l, l.Client, 60); c[0] > 0 || c[1] == 0 || c[2] == 0 {
		t.Fatalf("with both WANs online, IPv6 connections went %v", c)
	}
	if err := l.Blackhole(1); err != nil {
		t.Fatal(err)
	}
	took := d.waitState("wan1", "offline", 10*time.Second)
	t.Logf("blackholed wan1 offline after %s", took.Round(10*time.Millisecond))
	if c := count6(t, l, l.Client, 60); c[2] != 60 {
		t.Errorf("with wan1 offline, new IPv6 connections went %v", c)
	}
	if err := l.Heal(1); err != nil {
		t.Fatal(err)
	}
	d.waitState("wan1", "online", 15*time.Second)
	if c := count6(t, l, l.Client, 60); c[0] > 0 || c[1] == 0 || c[2] == 0 {
		t.Errorf("after recovery, new IPv6 connections went %v", c)
	}
}
