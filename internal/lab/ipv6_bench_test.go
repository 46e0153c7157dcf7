package lab_test

import (
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
)

// BenchmarkIPv6 puts IPv6 (translated mode: the router masquerades it on
// every WAN) beside IPv4 in the same dual-stack labs: the share error of
// 2000 new connections per family at weights 3:1, and after a blackhole
// of the primary WAN the time until it is offline and until a new
// connection of each family works through the backup. Medians of 3 runs.
func BenchmarkIPv6(b *testing.B) {
	labtest.RequireRoot(b)
	const runs, n = 3, 2000
	e := newEngine(b, lab.Options{ISPs: 2, IPv6: true})
	e.configure(wanConfig6(e.l, 3, 1))
	e.apply()
	var err4, err6 []float64
	for i := 0; i < runs; i++ {
		for _, fam := range []struct {
			addr string
			errs *[]float64
		}{{"198.18.100.1:80", &err4}, {server6(e.l, lab.WhoamiPort), &err6}} {
			c, err := e.l.CountISPsAt(e.l.Client, n, fam.addr)
			if err != nil || c[0] > 0 {
				b.Fatalf("connections to %s: %v %v", fam.addr, c, err)
			}
			*fam.errs = append(*fam.errs, math.Abs(float64(c[1])/n-0.75)*100)
		}
	}
	e.l.Close()

	var off, new4, new6 []time.Duration
	for i := 0; i < runs; i++ {
		o, a, c := ipv6FailoverRun(b)
		off, new4, new6 = append(off, o), append(new4, a), append(new6, c)
	}
	ms := func(d []time.Duration) string { return median(d).Round(10 * time.Millisecond).String() }
	var r strings.Builder
	fmt.Fprintf(&r, "  %-52s %10s %10s\n", "", "IPv4", "IPv6")
	fmt.Fprintf(&r, "  %-52s %9.1fpp %9.1fpp\n", fmt.Sprintf("share error at 3:1 over %d new connections", n), medianFloat(err4), medianFloat(err6))
	fmt.Fprintf(&r, "  %-52s %10s %10s\n", "blackhole -> wan1 offline (one state for both)", ms(off), ms(off))
	fmt.Fprintf(&r, "  %-52s %10s %10s\n", "blackhole -> a new connection works through wan2", ms(new4), ms(new6))
	fmt.Fprintf(&r, "  runs: error IPv4 %s pp, IPv6 %s pp; offline %s; new IPv4 %s; new IPv6 %s\n",
		floats(err4), floats(err6), durs(off), durs(new4), durs(new6))
	fmt.Fprintf(&r, "  (one dual-stack lab per run: ISP 1 primary, ISP 2 its link backup, wanlb's defaults (interval 1, timeout 1,\n"+
		"   down 3) probing IPv4 targets; ISP 1 drops both families. Offline read from `wanlb status --json` every 50 ms; each\n"+
		"   family's client dials the whoami server every 20 ms (150 ms timeout) until one arrives through ISP 2.)")
	report(b, fmt.Sprintf("IPv6 beside IPv4, translated mode, median of %d runs", runs), r.String())
}

func floats(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf("%.1f", x))
	}
	return strings.Join(s, " ")
}

func durs(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%.2fs", d.Seconds()))
	}
	return strings.Join(s, " ")
}

// ipv6FailoverRun blackholes the primary of a dual-stack lab and measures,
// at once, the time to offline and to the first new IPv4 and IPv6
// connection through the backup.
func ipv6FailoverRun(b *testing.B) (offline, new4, new6 time.Duration) {
	l := newLab(b, lab.Options{ISPs: 2, IPv6: true})
	defer l.Close()
	wan := targets + gateway6
	d := startDaemon(b, l, labWANs(l, map[int]string{1: wan, 2: wan})+"config link_backup\n\tlist primary 'wan1'\n\tlist backup 'wan2'\n")
	defer d.stop()
	d.waitAllOnline(20 * time.Second)
	t0 := time.Now()
	if err := l.Blackhole(1); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var at4, at6 time.Time
	var ok4, ok6 bool
	wg.Add(2)
	go func() { defer wg.Done(); at4, ok4 = firstSuccessAt(l, "198.18.100.1:80", 2, 30*time.Second) }()
	go func() { defer wg.Done(); at6, ok6 = firstSuccessAt(l, server6(l, lab.WhoamiPort), 2, 30*time.Second) }()
	offline = d.waitState("wan1", "offline", 30*time.Second)
	wg.Wait()
	if !ok4 || !ok6 {
		b.Fatalf("no failover within 30s: IPv4 %v, IPv6 %v", ok4, ok6)
	}
	return offline, at4.Sub(t0), at6.Sub(t0)
}

// firstSuccessAt is firstSuccess to any whoami server address.
func firstSuccessAt(l *lab.Lab, addr string, isp int, limit time.Duration) (time.Time, bool) {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		var k int
		l.Do(l.Client, func() error {
			c, err := (&net.Dialer{Timeout: 150 * time.Millisecond}).Dial("tcp", addr)
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
