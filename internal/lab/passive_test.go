package lab_test

// Passive detection with real traffic: the LAN client opens a few new
// connections per second through the router while faults are injected in
// ISP 1. A blackhole must take the WAN offline by "traffic" within about a
// second; loss, an unreachable probe target, a dead remote server, a
// saturated link and a client dialing dead addresses must not take any
// WAN offline.

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
)

// traffic opens a new connection from the client to addr every period,
// each on its own goroutine (a blackholed one waits out the lab's connect
// timeout), and counts where they arrived.
type traffic struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	byISP  map[int]int
	failed int
}

func startTraffic(tb testing.TB, l *lab.Lab, addr string, period time.Duration) *traffic {
	tr := &traffic{stop: make(chan struct{}), byISP: map[int]int{}}
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-tr.stop:
				return
			case <-tick.C:
			}
			tr.wg.Add(1)
			go func() {
				defer tr.wg.Done()
				remote, err := l.WhoamiAt(l.Client, addr)
				tr.mu.Lock()
				defer tr.mu.Unlock()
				if err != nil {
					tr.failed++
					return
				}
				tr.byISP[l.ISPOf(remote)]++
			}()
		}
	}()
	tb.Cleanup(tr.Stop)
	return tr
}

// Stop ends the traffic and waits for the connections still open.
func (tr *traffic) Stop() {
	select {
	case <-tr.stop:
		return
	default:
	}
	close(tr.stop)
	tr.wg.Wait()
}

func (tr *traffic) arrived(isp int) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.byISP[isp]
}

// deadDials has the client open n connections at once to random
// addresses that the lab's internet silently drops, every period.
func deadDials(tb testing.TB, l *lab.Lab, n int, period time.Duration) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					addr := fmt.Sprintf("198.18.200.%d:443", 1+rand.IntN(250))
					l.Do(l.Client, func() error {
						c, err := (&net.Dialer{Timeout: 700 * time.Millisecond}).Dial("tcp", addr)
						if err == nil {
							c.Close()
						}
						return nil
					})
				}()
			}
			select {
			case <-quit:
				return
			case <-time.After(period):
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(quit); wg.Wait() }) }
	tb.Cleanup(stop)
	return stop
}

// waitArrived waits until the traffic has arrived through every ISP.
func waitArrived(tb testing.TB, tr *traffic, within time.Duration, isps ...int) {
	tb.Helper()
	for end := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		all := true
		for _, k := range isps {
			all = all && tr.arrived(k) > 0
		}
		if all {
			return
		}
		if time.Now().After(end) {
			tb.Fatalf("traffic did not arrive through ISPs %v within %s", isps, within)
		}
	}
}

// waitOffline polls the status every 20 ms until wan is offline and
// returns how long that took from since.
func (d *daemonRun) waitOffline(wan string, since time.Time, within time.Duration) (time.Duration, bool) {
	for time.Since(since) < within {
		if d.wan(wan).State == "offline" {
			return time.Since(since), true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, false
}

// TestPassiveBlackholeWithTraffic: with both firewall backends, the
// counters passive detection reads are the same.
func TestPassiveBlackholeWithTraffic(t *testing.T) {
	for _, backend := range []string{"nftables", "iptables"} {
		t.Run(backend, func(t *testing.T) { passiveBlackhole(t, backend) })
	}
}

func passiveBlackhole(t *testing.T, backend string) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2})
	// The client's web traffic goes through wan1 while wan1 works (a
	// policy rule with fallback): balanced 1:1 instead, the first of its
	// connections to meet the blackhole would come after a random number
	// of them took wan2, and the time measured would be mostly that.
	web := "config rule 'web'\n\toption proto 'tcp'\n\tlist dest_ip '198.18.100.1'\n\toption dest_port '80'\n\tlist wan 'wan1'\n"
	d := startDaemon(t, l, "config globals 'globals'\n\toption backend '"+backend+"'\n\n"+labWANs(l, nil)+web)
	d.waitAllOnline(20 * time.Second)
	tr := startTraffic(t, l, "198.18.100.1:80", 250*time.Millisecond)
	waitArrived(t, tr, 10*time.Second, 1)

	t0 := time.Now()
	if err := l.Blackhole(1); err != nil {
		t.Fatal(err)
	}
	took, ok := d.waitOffline("wan1", t0, 10*time.Second)
	if !ok {
		t.Fatalf("blackholed wan1 not offline within 10s: %+v", d.wan("wan1"))
	}
	w := d.wan("wan1")
	t.Logf("%s: blackholed wan1 offline after %s (passive_window 0.4 s; probes alone: up to 4 s); %s", backend, took.Round(10*time.Millisecond), w.Changes[len(w.Changes)-1].Reason)
	if w.OfflineReason != "traffic" {
		t.Errorf("wan1 went offline by %q, want traffic (its own traffic, before the probes): %+v", w.OfflineReason, w.Changes)
	}
	// Generous: the goal is 1 s, and a busy machine adds to it.
	if took > 2500*time.Millisecond {
		t.Errorf("passive detection took %s", took)
	}
	tr.Stop()
	// The rule falls back to the WANs that work.
	if c := counts(t, l, 20); c[1] > 0 || c[0] > 0 {
		t.Errorf("right after wan1 went offline, new connections went %v", c)
	}
	if s, _ := d.status(); s.Backend != backend {
		t.Errorf("backend %q, want %s", s.Backend, backend)
	}
}

// TestPassiveNoFalseAlarms runs every condition on ISP 1 of one lab, one
// after the other, with the client's ordinary traffic flowing (except for
// the dead-address bursts, which come alone: the hardest case). wan1 also
// has a probe target that never answers, throughout.
func TestPassiveNoFalseAlarms(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2})
	setupFalseAlarmLab(t, l)
	d := startDaemon(t, l, falseAlarmConfig(l))
	d.waitAllOnline(20 * time.Second)
	tr := startTraffic(t, l, "198.18.100.1:80", 250*time.Millisecond)
	waitArrived(t, tr, 10*time.Second, 1, 2)

	const each = 6 * time.Second
	for _, c := range falseAlarmConditions(t, l) {
		n := c.run(d, tr, each)
		t.Logf("%-40s %d offline transitions in %s", c.name, n, each)
		if n != 0 {
			t.Errorf("%s took a WAN offline: wan1 %+v", c.name, d.wan("wan1").Changes)
		}
		if d.wan("wan1").State != "online" {
			d.waitState("wan1", "online", 10*time.Second)
		}
	}
}

// The false-alarm lab: a server that can stop answering (198.18.100.2), a
// probe target that never answers (198.18.100.99) and a range of dead
// addresses (198.18.200.0/24), silently dropped by the lab's internet;
// an iperf3 server (198.18.100.3) that wanlb routes through wan1 only.
func setupFalseAlarmLab(tb testing.TB, l *lab.Lab) {
	for _, args := range [][]string{
		{"ip", "addr", "add", "198.18.100.2/32", "dev", "lo"},
		{"ip", "addr", "add", "198.18.100.3/32", "dev", "lo"},
		{"ip", "route", "add", "blackhole", "198.18.100.99/32"},
		{"ip", "route", "add", "blackhole", "198.18.200.0/24"},
	} {
		if _, err := l.Exec(l.Internet, args[0], args[1:]...); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := l.ServeWhoami(l.Internet, "198.18.100.2:80"); err != nil {
		tb.Fatal(err)
	}
	if _, err := l.Start(l.Internet, "iperf3", "-s", "-B", "198.18.100.3"); err != nil {
		tb.Fatal(err)
	}
}

func falseAlarmConfig(l *lab.Lab) string {
	return labWANs(l, map[int]string{1: targets + "\tlist track '198.18.100.99'\n"}) +
		"config rule\n\toption name 'bulk'\n\tlist dest_ip '198.18.100.3'\n\tlist wan 'wan1'\n"
}

type condition struct {
	name  string
	alone bool // the client's ordinary traffic stops first
	start func() (undo func())
}

func falseAlarmConditions(tb testing.TB, l *lab.Lab) []condition {
	heal := func() {
		if err := l.Heal(1); err != nil {
			tb.Error(err)
		}
	}
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	return []condition{
		{"one unreachable probe target", false, func() func() { return func() {} }},
		{"10% random loss", false, func() func() { must(l.Loss(1, 10)); return heal }},
		{"30% random loss", false, func() func() { must(l.Loss(1, 30)); return heal }},
		{"a remote server stops answering", false, func() func() {
			_, err := l.Exec(l.Internet, "iptables", "-w", "-I", "INPUT", "-d", "198.18.100.2", "-j", "DROP")
			must(err)
			dead := startTraffic(tb, l, "198.18.100.2:80", 100*time.Millisecond)
			return func() {
				dead.Stop()
				l.Exec(l.Internet, "iptables", "-w", "-D", "INPUT", "-d", "198.18.100.2", "-j", "DROP")
			}
		}},
		{"saturated link (tbf 5 Mbit/s, both ways)", false, func() func() {
			must(l.Bandwidth(1, 5))
			p, err := l.Start(l.Client, "iperf3", "-c", "198.18.100.3", "--bidir", "-t", "30")
			must(err)
			return func() { p.Kill(); p.Wait(); heal() }
		}},
		{"bursts of connections to dead addresses", true, func() func() { return deadDials(tb, l, 20, 500*time.Millisecond) }},
	}
}

// run holds the condition for dur (stopping the client's ordinary traffic
// first when it comes alone) and returns how many times a WAN went offline
// meanwhile.
func (c condition) run(d *daemonRun, tr *traffic, dur time.Duration) int {
	from := time.Now()
	if c.alone {
		tr.Stop()
	}
	undo := c.start()
	time.Sleep(dur)
	undo()
	return offlinesSince(d, from)
}

// offlinesSince counts the transitions to offline of every WAN since from
// (the status keeps the last 10 changes per WAN: enough for one condition).
func offlinesSince(d *daemonRun, from time.Time) int {
	s, err := d.status()
	if err != nil {
		return 0
	}
	n := 0
	for _, w := range s.WANs {
		for _, c := range w.Changes {
			if c.To == "offline" && c.At.After(from) {
				n++
			}
		}
	}
	return n
}
