package lab_test

// BenchmarkPassive: passive detection side by side in one run. Blackhole
// -> offline and -> first working new connection, with traffic and idle,
// with the defaults and the fast profile (interval 0.2), beside pfSense's
// real dpinger in the same lab; false alarms under each condition of the
// no-false-alarm test, counted over a fixed time; the daemon's CPU and
// memory with 4 WANs, passive watching on and off.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
	"github.com/wanlb/wanlb/internal/openwrttest"
)

// passiveProfiles are the settings measured: the defaults and the fast
// profile.
var passiveProfiles = []struct{ name, opts string }{
	{"defaults (interval 1)", ""},
	{"fast (interval 0.2)", "\toption interval '0.2'\n"},
}

// backupConfig is wan1 primary, wan2 its backup, both with opts: every new
// connection goes through wan1 until it is offline.
func backupConfig(l *lab.Lab, opts string) string {
	return labWANs(l, map[int]string{1: targets + opts, 2: targets + opts}) +
		"config link_backup\n\tlist primary 'wan1'\n\tlist backup 'wan2'\n"
}

// blackholeRun blackholes ISP 1 and returns how long until wanlb said
// wan1 offline and until a new connection worked through wan2. With
// traffic, the client opens 4 connections per second throughout and the
// first-connection dials (every 20 ms) start at once; idle, nothing but
// probes crosses wan1 until it is offline, then the dials start. It heals
// ISP 1 and waits for wan1 to be online again.
func blackholeRun(b *testing.B, l *lab.Lab, d *daemonRun, withTraffic bool) (offline, working time.Duration) {
	var tr *traffic
	if withTraffic {
		tr = startTraffic(b, l, "198.18.100.1:80", 250*time.Millisecond)
		waitArrived(b, tr, 10*time.Second, 1)
	}
	t0 := time.Now()
	if err := l.Blackhole(1); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var at time.Time
	var ok bool
	if withTraffic {
		wg.Add(1)
		go func() { defer wg.Done(); at, ok = firstSuccess(l, 2, 30*time.Second) }()
	}
	offline, down := d.waitOffline("wan1", t0, 30*time.Second)
	if !withTraffic {
		at, ok = firstSuccess(l, 2, 30*time.Second)
	}
	wg.Wait()
	if tr != nil {
		tr.Stop()
	}
	if !down || !ok {
		b.Fatalf("blackhole: offline %v, working connection %v; wan1 %+v", down, ok, d.wan("wan1"))
	}
	if err := l.Heal(1); err != nil {
		b.Fatal(err)
	}
	d.waitState("wan1", "online", 30*time.Second)
	return offline, at.Sub(t0)
}

// startDpinger runs pfSense's dpinger on wan1 of l, watching the lab's
// server (also wanlb's ICMP target), with pfSense's defaults.
func startDpinger(b *testing.B, l *lab.Lab) *dpingerRun {
	dpinger := openwrttest.Bin("dpinger")
	if _, err := os.Stat(dpinger); err != nil {
		openwrttest.Unavailable(b, fmt.Sprintf("dpinger from openwrt-tools: %v", err))
	}
	isp := l.ISPs[0]
	// pfSense adds a host route to the monitor IP through the gateway, so
	// the probes always leave by that WAN. A host route in main would
	// steer the lab's client traffic too (the monitor is the lab's
	// server), so the same pinning is done with a source rule: what dpinger
	// sends from wan1's address leaves by wan1, whatever wanlb decides for
	// the router's own traffic. wanlb's own wan1 probes go there anyway.
	for _, args := range [][]string{
		{"route", "add", "default", "via", isp.Gateway.String(), "dev", isp.RouterDev, "table", "900"},
		{"rule", "add", "from", isp.RouterAddr.String(), "lookup", "900", "priority", "5500"},
	} {
		if _, err := l.Exec(l.Router, "ip", args...); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	alertCmd, alertLog, socket := filepath.Join(dir, "alert"), filepath.Join(dir, "alert.log"), filepath.Join(dir, "dpinger.sock")
	if err := os.WriteFile(alertCmd, []byte("#!/bin/sh\necho \"$(date +%s%N) $*\" >> "+alertLog+"\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	p, err := l.Start(l.Router, dpinger, dpingerArgs(isp.RouterAddr.String(), l.ServerAddr().String(), alertCmd, socket)...)
	if err != nil {
		b.Fatal(err)
	}
	return &dpingerRun{proc: p, alertLog: alertLog, socket: socket}
}

// dpingerRun is a running dpinger: its process, the file its alert
// command appends to, and its status socket.
type dpingerRun struct {
	proc             *lab.Process
	alertLog, socket string
}

type detectRow struct {
	name              string
	offline, working  []time.Duration
	dpingerAlarm      []time.Duration
	hasDpinger, isRow bool
}

// passiveDetectionRun is one run: one lab, the four wanlb cases one after
// the other, then wanlb with traffic beside dpinger (started 62 s before
// that fault, so its 60 s loss window is full, as on a router).
func passiveDetectionRun(b *testing.B, rows map[string]*detectRow) {
	l := newLab(b, lab.Options{ISPs: 2})
	defer l.Close()
	d := startDaemon(b, l, backupConfig(l, ""))
	defer d.stop()
	d.waitAllOnline(20 * time.Second) // and SIGHUP is handled from now on
	for _, p := range passiveProfiles {
		d.reload(backupConfig(l, p.opts))
		d.waitAllOnline(20 * time.Second)
		time.Sleep(time.Second) // the new settings' first rounds
		for _, withTraffic := range []bool{true, false} {
			name := fmt.Sprintf("%s, %s", p.name, map[bool]string{true: "traffic", false: "idle"}[withTraffic])
			off, work := blackholeRun(b, l, d, withTraffic)
			r := rows[name]
			r.offline, r.working = append(r.offline, off), append(r.working, work)
		}
	}
	d.reload(backupConfig(l, ""))
	alertLog := startDpinger(b, l).alertLog
	started := time.Now()
	d.waitAllOnline(20 * time.Second)
	time.Sleep(time.Until(started.Add(pfSenseMonitor.period + pfSenseMonitor.lossInterval)))
	tr := startTraffic(b, l, "198.18.100.1:80", 250*time.Millisecond)
	waitArrived(b, tr, 10*time.Second, 1)
	t0 := time.Now()
	if err := l.Blackhole(1); err != nil {
		b.Fatal(err)
	}
	var wDown, pDown time.Duration
	for time.Since(t0) < 30*time.Second && (wDown == 0 || pDown == 0) {
		if wDown == 0 && d.wan("wan1").State == "offline" {
			wDown = time.Since(t0)
		}
		if at, ok := firstAlert(alertLog, "1", t0); ok && pDown == 0 {
			pDown = at.Sub(t0)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tr.Stop()
	if wDown == 0 || pDown == 0 {
		b.Fatalf("beside dpinger: wanlb offline after %s, dpinger alarm after %s (0: none within 30 s)", wDown, pDown)
	}
	r := rows["beside dpinger"]
	r.offline, r.dpingerAlarm = append(r.offline, wDown), append(r.dpingerAlarm, pDown)
}

// falseAlarmCounts runs each no-false-alarm condition for dur on one lab
// and counts wanlb's offline transitions.
func falseAlarmCounts(b *testing.B, dur time.Duration) string {
	l := newLab(b, lab.Options{ISPs: 2})
	defer l.Close()
	setupFalseAlarmLab(b, l)
	d := startDaemon(b, l, falseAlarmConfig(l))
	defer d.stop()
	d.waitAllOnline(20 * time.Second)
	tr := startTraffic(b, l, "198.18.100.1:80", 250*time.Millisecond)
	waitArrived(b, tr, 10*time.Second, 1, 2)
	var r strings.Builder
	fmt.Fprintf(&r, "  %-44s %8s\n", "condition on ISP 1", "offline")
	total := 0
	for _, c := range falseAlarmConditions(b, l) {
		n := c.run(d, tr, dur)
		total += n
		fmt.Fprintf(&r, "  %-44s %8d\n", c.name, n)
		if d.wan("wan1").State != "online" {
			d.waitState("wan1", "online", 20*time.Second)
		}
	}
	fmt.Fprintf(&r, "  %-44s %8d\n", "total", total)
	return r.String()
}

// footprint measures the daemon with 4 WANs over dur, passive on and
// off alternately (runs times each), the client opening 4 connections per
// second throughout; it returns CPU seconds per minute and RSS medians.
func footprint(b *testing.B, dur time.Duration, runs int) string {
	l := newLab(b, lab.Options{ISPs: 4})
	defer l.Close()
	on := labWANs(l, nil)
	off := strings.ReplaceAll(on, "\tlist track 'dns://198.18.100.1/probe.test'\n", "\tlist track 'dns://198.18.100.1/probe.test'\n\toption passive '0'\n")
	d := startDaemon(b, l, on)
	defer d.stop()
	d.waitAllOnline(20 * time.Second)
	tr := startTraffic(b, l, "198.18.100.1:80", 250*time.Millisecond)
	defer tr.Stop()
	pid := d.proc.Cmd.Process.Pid
	cpu := map[bool][]float64{}
	rss := map[bool][]int{}
	var modes []bool
	for i := 0; i < runs; i++ {
		modes = append(modes, true, false)
	}
	for _, passive := range modes {
		if passive {
			d.reload(on)
		} else {
			d.reload(off)
		}
		time.Sleep(2 * time.Second)
		c0 := cpuSeconds(b, pid)
		for end := time.Now().Add(dur); time.Now().Before(end); time.Sleep(5 * time.Second) {
			rss[passive] = append(rss[passive], procStatus(b, pid, "VmRSS"))
		}
		cpu[passive] = append(cpu[passive], (cpuSeconds(b, pid)-c0)*float64(time.Minute)/float64(dur))
	}
	peak := procStatus(b, pid, "VmHWM")
	var r strings.Builder
	for _, passive := range []bool{true, false} {
		var each []string
		for _, c := range cpu[passive] {
			each = append(each, fmt.Sprintf("%.2f", c))
		}
		fmt.Fprintf(&r, "  passive %-5v CPU %.2f s per minute (runs %s), RSS median %.1f MB\n", passive,
			medianFloat(cpu[passive]), strings.Join(each, ", "), float64(medianInt(rss[passive]))/1024)
	}
	fmt.Fprintf(&r, "  peak RSS %.1f MB; goal: CPU <= 0.3 s per minute, RSS <= 12 MB\n", float64(peak)/1024)
	return r.String()
}

func BenchmarkPassive(b *testing.B) {
	labtest.RequireRoot(b)
	const runs = 3
	start := time.Now()
	var order []string
	rows := map[string]*detectRow{}
	for _, p := range passiveProfiles {
		for _, t := range []string{"traffic", "idle"} {
			name := p.name + ", " + t
			order = append(order, name)
			rows[name] = &detectRow{name: name}
		}
	}
	order = append(order, "beside dpinger")
	rows["beside dpinger"] = &detectRow{name: "defaults, traffic, beside dpinger", hasDpinger: true}
	for i := 0; i < runs; i++ {
		passiveDetectionRun(b, rows)
	}
	secs := func(ds []time.Duration) string {
		var s []string
		for _, d := range ds {
			s = append(s, fmt.Sprintf("%.2f", d.Seconds()))
		}
		return strings.Join(s, " ")
	}
	var r strings.Builder
	fmt.Fprintf(&r, "  %-40s %9s %9s %9s   %s\n", "wanlb (passive on)", "offline", "working", "dpinger", "runs: offline (s)")
	for _, name := range order {
		row := rows[name]
		dp, work := "", ""
		if row.hasDpinger {
			dp = median(row.dpingerAlarm).Round(10 * time.Millisecond).String()
		} else {
			work = median(row.working).Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(&r, "  %-40s %9s %9s %9s   %s\n", row.name, median(row.offline).Round(10*time.Millisecond), work, dp, secs(row.offline))
	}
	fmt.Fprintf(&r, "  dpinger alarm runs (s): %s\n", secs(rows["beside dpinger"].dpingerAlarm))
	const each = 30 * time.Second
	fa := falseAlarmCounts(b, each)
	const window = 60 * time.Second
	fp := footprint(b, window, 2)
	report(b, fmt.Sprintf("Passive detection side by side, median of %d runs (BenchmarkPassive)", runs), r.String()+
		"  (one lab per run: wan1 primary, wan2 its link backup, lab targets ICMP+TCP+DNS, passive_window 0.4. ISP 1 blackholed;\n"+
		"   offline: `wanlb status --json` polled every 20 ms; working: the first new connection through wan2, dialled every\n"+
		"   20 ms with a 150 ms timeout. traffic: the client opens 4 new connections per second, and the dials start at the\n"+
		"   fault; idle: only probes cross wan1, the dials start once it is offline. dpinger: pfSense's defaults, started 62 s\n"+
		"   before the fault in the same lab, its alarm from its alert command; pfSense acts on it after that.)\n\n"+
		fmt.Sprintf("  False alarms, each condition for %s with 4 new connections per second (alone for the dead-address bursts):\n", each)+fa+"\n"+
		fmt.Sprintf("  Daemon footprint, 4 WANs x 3 targets every second, 4 new connections per second, %s per sample:\n", window)+fp+
		fmt.Sprintf("  (took %s)", time.Since(start).Round(time.Second)))
}

// BenchmarkDaemonCPU is the footprint part of BenchmarkPassive alone:
// 3 windows per mode of WANLB_CPU_WINDOW (default 60s). With
// WANLB_CPUPROFILE=<file> in the environment the daemon writes a CPU
// profile there until it stops.
func BenchmarkDaemonCPU(b *testing.B) {
	labtest.RequireRoot(b)
	window := 60 * time.Second
	if v := os.Getenv("WANLB_CPU_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("WANLB_CPU_WINDOW: %v", err)
		}
		window = d
	}
	report(b, fmt.Sprintf("Daemon footprint, 4 WANs x 3 targets every second, 4 new connections per second, %s per sample (BenchmarkDaemonCPU)", window),
		footprint(b, window, 3))
}
