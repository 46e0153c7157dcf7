package lab_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
)

// BenchmarkDetection reports blackhole -> offline, medians of several runs:
// per profile with the lab's three targets (the fast profile before and
// after its timeout default followed the interval), then per target kind
// alone in the fast profile, idle and with LAN traffic. Each fault comes
// at a random phase of the probe rounds (a random wait of up to one
// interval after the WAN is online), as a real fault does.
func BenchmarkDetection(b *testing.B) {
	labtest.RequireRoot(b)
	const runs = 7
	profiles := []struct {
		name, opts string
		interval   time.Duration
		bound      time.Duration
	}{
		{"defaults (interval 1, timeout 1, down 3)", "", time.Second, 4 * time.Second},
		{"fast, old timeout (interval 0.2, timeout 1 set)", "\toption interval '0.2'\n\toption timeout '1'\n", 200 * time.Millisecond, 1600 * time.Millisecond},
		{"fast (interval 0.2, timeout unset: 0.4)", "\toption interval '0.2'\n", 200 * time.Millisecond, time.Second},
	}
	var r strings.Builder
	fmt.Fprintf(&r, "  %-48s %9s %9s %9s %9s\n", "", "median", "min", "max", "bound")
	l := newLab(b, lab.Options{ISPs: 2})
	var d *daemonRun
	for _, p := range profiles {
		cfg := labWANs(l, map[int]string{1: targets + p.opts, 2: targets + p.opts})
		if d == nil {
			d = startDaemon(b, l, cfg)
		} else {
			d.stop()
			d.writeConfig(cfg)
			d.start()
		}
		d.waitAllOnline(30 * time.Second)
		var ds []time.Duration
		for i := 0; i < runs; i++ {
			time.Sleep(rand.N(p.interval))
			t0 := time.Now()
			if err := l.Blackhole(1); err != nil {
				b.Fatal(err)
			}
			took, ok := offlineAfter(d, "wan1", t0, 20*time.Second)
			if !ok {
				b.Fatalf("%s: wan1 not offline within 20s", p.name)
			}
			ds = append(ds, took)
			l.Heal(1)
			d.waitState("wan1", "online", 20*time.Second)
		}
		fmt.Fprintf(&r, "  %-48s %9s %9s %9s %9s\n", p.name, ms(median(ds)), ms(minDur(ds)), ms(maxDur(ds)), p.bound)
	}
	d.stop()
	fmt.Fprintf(&r, "  (three targets per WAN: ICMP, TCP, DNS; reliability 1. Time from just before the blackhole to the\n"+
		"   change to offline as the daemon records it (status changes[].at); the rules follow within milliseconds.)")
	report(b, fmt.Sprintf("Blackhole -> offline by profile, idle, median of %d runs", runs), r.String())

	r.Reset()
	kl := newLab(b, lab.Options{ISPs: len(kindTargets)})
	probeLabHTTP(b, kl)
	kd := startDaemon(b, kl, kindWANs(kl, "\toption interval '0.2'\n"))
	kd.waitAllOnline(30 * time.Second)
	fmt.Fprintf(&r, "  %-20s %9s %9s %9s\n", "target kind alone", "idle", "traffic", "bound")
	per := map[bool][][]time.Duration{}
	for _, traffic := range []bool{false, true} {
		per[traffic] = make([][]time.Duration, len(kindTargets))
		for i := 0; i < runs; i++ {
			took, _ := kindRun(b, kl, kd, traffic, rand.N(200*time.Millisecond), 20*time.Second)
			for k, d := range took {
				if d == 0 {
					b.Fatalf("%s alone: not offline within 20s", kindTargets[k].kind)
				}
				per[traffic][k] = append(per[traffic][k], d)
			}
		}
	}
	for k, kt := range kindTargets {
		fmt.Fprintf(&r, "  %-20s %9s %9s %9s\n", kt.kind, ms(median(per[false][k])), ms(median(per[true][k])), time.Second)
	}
	fmt.Fprintf(&r, "  (fast profile: interval 0.2, timeout unset (0.4 s), down 3; one WAN per kind, all four blackholed at once.\n"+
		"   traffic: the LAN client opens a new connection every 100 ms, balanced over the four WANs.)")
	report(b, fmt.Sprintf("Blackhole -> offline per target kind, median of %d runs", runs), r.String())
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }
