package lab_test

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
)

// firstSuccess dials the whoami server from the client every 20 ms with a
// short timeout until a connection arrives through isp, and returns when.
func firstSuccess(l *lab.Lab, isp int, limit time.Duration) (time.Time, bool) {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		var k int
		l.Do(l.Client, func() error {
			c, err := (&net.Dialer{Timeout: 150 * time.Millisecond}).Dial("tcp", "198.18.100.1:80")
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			k = l.ISPOf(strings.TrimSpace(string(buf[:n])))
			return nil
		})
		if k == isp {
			return time.Now(), true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Time{}, false
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// failoverRun is one measurement: primary wan1 with backup wan2, a fault on
// wan1, the time until a new connection works through wan2, then the time
// until new connections are back on wan1 after healing.
func failoverRun(b *testing.B, wanOpts string, fault func(*lab.Lab) error) (detect, recovery time.Duration) {
	l := newLab(b, lab.Options{ISPs: 2})
	defer l.Close()
	d := startDaemon(b, l, labWANs(l, map[int]string{1: targets + wanOpts, 2: targets + wanOpts})+
		"config link_backup\n\tlist primary 'wan1'\n\tlist backup 'wan2'\n")
	defer d.stop()
	d.waitAllOnline(20 * time.Second)
	t0 := time.Now()
	if err := fault(l); err != nil {
		b.Fatal(err)
	}
	at, ok := firstSuccess(l, 2, 30*time.Second)
	if !ok {
		b.Fatal("no failover within 30s")
	}
	detect = at.Sub(t0)
	t1 := time.Now()
	l.Heal(1)
	at, ok = firstSuccess(l, 1, 30*time.Second)
	if !ok {
		b.Fatal("no recovery within 30s")
	}
	return detect, at.Sub(t1)
}

// udpGap is the time from blackholing the WAN of a UDP flow (a datagram
// every 20 ms) to its first reply through the other WAN.
func udpGap(b *testing.B) time.Duration {
	l := newLab(b, lab.Options{ISPs: 2})
	defer l.Close()
	d := startDaemon(b, l, labWANs(l, nil))
	defer d.stop()
	d.waitAllOnline(20 * time.Second)
	f := startUDPFlow(b, l)
	time.Sleep(300 * time.Millisecond)
	first, _ := f.last()
	if first.isp == 0 {
		b.Fatal("UDP flow gets no replies")
	}
	t0 := time.Now()
	l.Blackhole(first.isp)
	for end := t0.Add(30 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if r, _ := f.last(); r.isp == 3-first.isp && r.at.After(t0) {
			return r.at.Sub(t0)
		}
	}
	b.Fatal("the UDP flow never moved")
	return 0
}

// lossChanges counts wan2's state changes during 10% loss for dur.
func lossChanges(b *testing.B, dur time.Duration) int {
	l := newLab(b, lab.Options{ISPs: 2})
	defer l.Close()
	d := startDaemon(b, l, labWANs(l, nil))
	defer d.stop()
	d.waitAllOnline(20 * time.Second)
	before := strings.Count(d.proc.Output(), "wan2 ")
	l.Loss(2, 10)
	time.Sleep(dur)
	return strings.Count(d.proc.Output(), "wan2 ") - before
}

// BenchmarkFailover measures failover and recovery, medians of repeated
// runs; then wanlb beside pfSense's real dpinger in the same labs; then,
// apart and labelled as such, worst cases computed from settings (wanlb's
// and mwan3's, which is not run here).
func BenchmarkFailover(b *testing.B) {
	labtest.RequireRoot(b)
	const runs = 3
	// The side-by-side runs come first: they need the openwrt-tools kit,
	// which is the likelier thing to be missing.
	sideTitle, side := sideBySideTable(b, runs)
	scenarios := []struct {
		name  string
		opts  string
		fault func(*lab.Lab) error
		bound string
	}{
		{"carrier loss", "", func(l *lab.Lab) error { return l.CarrierDown(1) }, "immediate"},
		{"blackhole, defaults (interval 1, down 3)", "", func(l *lab.Lab) error { return l.Blackhole(1) },
			"<= " + wanlbBound(time.Second, time.Second, 3).String()},
		{"blackhole, fast (interval 0.2, down 3)", "\toption interval '0.2'\n", func(l *lab.Lab) error { return l.Blackhole(1) },
			"<= " + wanlbBound(200*time.Millisecond, config.DefaultTimeout(200*time.Millisecond), 3).String()},
	}
	var r strings.Builder
	fmt.Fprintf(&r, "  %-42s %9s %9s %10s\n", "", "detect", "bound", "recover")
	for _, s := range scenarios {
		var det, rec []time.Duration
		for i := 0; i < runs; i++ {
			d, rc := failoverRun(b, s.opts, s.fault)
			det, rec = append(det, d), append(rec, rc)
		}
		fmt.Fprintf(&r, "  %-42s %9s %9s %10s\n", s.name, median(det).Round(10*time.Millisecond), s.bound, median(rec).Round(10*time.Millisecond))
	}
	var gaps []time.Duration
	for i := 0; i < runs; i++ {
		gaps = append(gaps, udpGap(b))
	}
	fmt.Fprintf(&r, "  %-42s %9s\n", "UDP flow gap after a blackhole (defaults)", median(gaps).Round(10*time.Millisecond))
	n := lossChanges(b, 2*time.Minute)
	fmt.Fprintf(&r, "  %-42s %9d\n", "state changes under 10% loss for 2 minutes", n)
	fmt.Fprintf(&r, "  (detect runs until a new connection works: the bound on detection itself, down x interval + timeout, plus the apply\n"+
		"   and the client's retry step, which waits 150 ms on a connection that fails. Recovery: until new connections use wan1 again.)")
	report(b, fmt.Sprintf("Failover, median of %d runs (fault -> a new connection works through the backup WAN)", runs), r.String())

	report(b, sideTitle, side)
	reportComputed(b)
}

// sideBySideTable runs wanlb and pfSense's dpinger side by side and
// returns the title and table of medians, with every run.
func sideBySideTable(b *testing.B, runs int) (title, table string) {
	const outage = 30 * time.Second
	var wd, pd, wu, pu []time.Duration
	for i := 0; i < runs; i++ {
		a, c, e, f := sideBySide(b, outage)
		wd, pd, wu, pu = append(wd, a), append(pd, c), append(wu, e), append(pu, f)
	}
	secs := func(ds []time.Duration) string {
		var s []string
		for _, d := range ds {
			s = append(s, fmt.Sprintf("%.2f", d.Seconds()))
		}
		return strings.Join(s, " ")
	}
	m := pfSenseMonitor
	var r strings.Builder
	fmt.Fprintf(&r, "  %-40s %9s %9s %15s\n", "", "wanlb", "dpinger", "dpinger/wanlb")
	fmt.Fprintf(&r, "  %-40s %9s %9s %14.1fx\n", "blackhole -> offline / alarm raised", median(wd).Round(10*time.Millisecond), median(pd).Round(10*time.Millisecond), float64(median(pd))/float64(median(wd)))
	fmt.Fprintf(&r, "  %-40s %9s %9s %14.1fx\n", "heal -> online / alarm cleared", median(wu).Round(10*time.Millisecond), median(pu).Round(10*time.Millisecond), float64(median(pu))/float64(median(wu)))
	fmt.Fprintf(&r, "  runs (s): wanlb offline %s, dpinger alarm %s; wanlb online %s, dpinger clear %s\n", secs(wd), secs(pd), secs(wu), secs(pu))
	fmt.Fprintf(&r, "  (both watch wan1 of the same lab at once: ISP 1 blackholed for %s, then healed. wanlb: defaults (interval 1, timeout 1,\n"+
		"   down 3, up 3), its three lab targets, state read from `wanlb status --json` every 50 ms. dpinger: pfSense's defaults\n"+
		"   (-s %d -l %d -t %d -A %d -D %d -L %d, the monitor IP 198.18.100.1 through ISP 1), started %s before the fault so its\n"+
		"   window is full; times from its alert command (-C), which it runs on its %s alert check. pfSense acts on the alarm;\n"+
		"   neither column includes the rule change that follows.)",
		outage, m.send.Milliseconds(), m.lossInterval.Milliseconds(), m.period.Milliseconds(), m.alert.Milliseconds(), m.latencyHigh.Milliseconds(), m.lossHigh,
		m.period+m.lossInterval, m.alert)
	return fmt.Sprintf("Detection beside pfSense's dpinger, measured in the same labs, median of %d runs", runs), r.String()
}

// reportComputed prints worst cases computed from settings, not measured.
func reportComputed(b *testing.B) {
	var r strings.Builder
	fmt.Fprintf(&r, "  %-56s %12s %12s\n", "", "detection", "recovery")
	fmt.Fprintf(&r, "  %-56s %12s %12s\n", "wanlb, defaults (interval 1, timeout 1, down 3, up 3)",
		"<= "+wanlbBound(time.Second, time.Second, 3).String(), "<= "+wanlbBound(time.Second, time.Second, 3).String())
	for _, m := range mwan3Defaults {
		db, dw := m.detection()
		rb, rw := m.recovery()
		fmt.Fprintf(&r, "  %-56s %12s %12s\n", m.name, fmt.Sprintf("%.0f-%.0f s", db.Seconds(), dw.Seconds()), fmt.Sprintf("%.0f-%.0f s", rb.Seconds(), rw.Seconds()))
	}
	fmt.Fprintf(&r, "  (from the probe loops and their settings; nothing here was run. wanlb: a round starts every interval and is\n"+
		"   judged by its timeout: down x interval + timeout to go offline, up x interval + timeout to come back. mwan3 2.12.2\n"+
		"   (openwrt/packages net/mwan3, usr/sbin/mwan3track): interval 10 s, timeout 4 s, down 5, up 5, count 1; the targets of\n"+
		"   a round are pinged one after another and a dead one costs the whole timeout; offline after down failed rounds, online\n"+
		"   after up good ones. Both columns stop at the tracker's decision.)")
	report(b, "Computed from settings, not measured: silent fault to offline, heal to online", r.String())
}
