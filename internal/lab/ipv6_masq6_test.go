package lab_test

// The default's safety on OpenWrt's real fw4: in ipv6_mode 'translated'
// (the default) a WAN's IPv6 side is balanced only when its firewall zone
// masquerades IPv6 (masq6). On the stock firewall (no masq6) with the LAN
// on ISP 1's prefix, balancing would send new IPv6 connections out by ISP
// 2 with ISP 1's addresses and half of them would fail; wanlb leaves IPv6
// to the main table instead, and balances it once masq6 is on.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
)

func TestIPv6Masq6Safety(t *testing.T) {
	l := newFW4Lab(t, lab.Options{ISPs: 2, IPv6: true})
	fwPath := filepath.Join(l.FW4ConfigDir(), "firewall")
	fw, err := os.ReadFile(fwPath)
	if err != nil {
		t.Fatal(err)
	}
	withMasq6 := string(fw)
	stock := strings.ReplaceAll(withMasq6, "\toption masq6 '1'\n", "")
	if stock == withMasq6 {
		t.Fatal("the lab's fw4 config has no masq6 to remove")
	}
	if err := os.WriteFile(fwPath, []byte(stock), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.FW4Up(); err != nil {
		t.Fatal(err)
	}
	// The LAN's addresses are ISP 1's (its prefix, routed back by it
	// alone): without translation only ISP 1 carries them.
	isp1 := l.ISPs[0]
	if _, err := l.Exec(isp1.NS, "ip", "-6", "route", "add", "fd00:1::/64", "via", isp1.RouterAddr6().String(), "dev", "r0"); err != nil {
		t.Fatal(err)
	}
	if c := count6(t, l, l.Client, 20); c[1] != 20 {
		t.Fatalf("before wanlb, IPv6 connections went %v, want all through ISP 1", c)
	}

	// The daemon reads the firewall config fw4 reads.
	d := startFW4DaemonFirewall(t, l, fw4WANs(l, gateway6), fwPath)
	for _, name := range []string{"wan1", "wan2"} {
		w := d.wan(name)
		if w.IPv6 == nil || w.IPv6.Active || !strings.Contains(w.IPv6.Note, "masq6 '1'") {
			t.Errorf("%s: IPv6 status %+v, want not active with a note naming masq6", name, w.IPv6)
		}
	}
	if !strings.Contains(d.proc.Output(), "wan2: IPv6 not balanced, left to the main table") {
		t.Errorf("no warning in the log:\n%s", d.proc.Output())
	}
	if out, _ := d.cli("status"); !strings.Contains(out, "wan2: IPv6 not balanced: ") {
		t.Errorf("wanlb status does not say IPv6 is not balanced:\n%s", out)
	}
	if c := count6(t, l, l.Client, 40); c[1] != 40 {
		t.Errorf("with wanlb and no masq6, IPv6 connections went %v, want all through ISP 1 as before", c)
	}

	// masq6 added and the firewall reloaded: balanced.
	if err := os.WriteFile(fwPath, []byte(withMasq6), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := l.FW4Up(); err != nil {
		t.Fatal(err)
	}
	var c map[int]int
	for deadline := time.Now().Add(10 * time.Second); ; {
		if w := d.wan("wan2"); w.IPv6 != nil && w.IPv6.Active {
			if c = count6(t, l, l.Client, 40); c[0] == 0 && c[1] > 0 && c[2] > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("IPv6 not balanced within 10 s of masq6 and a firewall reload: last %v, wan2 %+v", c, d.wan("wan2").IPv6)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("IPv6 balanced %s after the firewall reload began: %v", time.Since(start).Round(10*time.Millisecond), c)
	if w := d.wan("wan1"); w.IPv6.Note != "" {
		t.Errorf("wan1 keeps its note: %q", w.IPv6.Note)
	}
}

// startFW4DaemonFirewall is startFW4Daemon with fwPath as the daemon's
// <config-dir>/firewall from its start.
func startFW4DaemonFirewall(t *testing.T, l *lab.Lab, config, fwPath string) *daemonRun {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	failoverDNS(t, l)
	run := l.FW4Runner().(owFW4).ow.RunDir(t, l.Router)
	d := &daemonRun{t: t, l: l, bin: bin, configDir: t.TempDir(), runDir: t.TempDir(), ubusRun: run}
	if err := os.Symlink(fwPath, filepath.Join(d.configDir, "firewall")); err != nil {
		t.Fatal(err)
	}
	d.writeConfig(config)
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.proc.Output())
		}
	})
	d.waitAllOnline(20 * time.Second)
	return d
}
