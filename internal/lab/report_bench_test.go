package lab_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/lab"
)

// report prints a benchmark's table and, when WANLB_BENCH_REPORT names a
// file (make bench sets it to BENCHMARKS.md), appends it there as a
// section, so the printed figures and the file come from the same run.
func report(b testing.TB, title, body string) {
	fmt.Printf("\n%s\n%s\n", title, body)
	path := os.Getenv("WANLB_BENCH_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "## %s\n\n```text\n%s\n```\n\n", title, strings.TrimRight(body, "\n"))
}

func medianFloat(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// iperf runs a 4 s TCP test from the LAN client to the internet server
// and returns the received bits per second.
func iperf(b *testing.B, l *lab.Lab) float64 {
	out, err := l.Exec(l.Client, "iperf3", "-c", "198.18.100.1", "-p", "5201", "-t", "4", "-J")
	if err != nil {
		b.Fatalf("iperf3: %v", err)
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.End.SumReceived.BitsPerSecond == 0 {
		b.Fatalf("iperf3 output: %v\n%.500s", err, out)
	}
	return r.End.SumReceived.BitsPerSecond
}

// BenchmarkThroughput compares forwarding through the router without
// wanlb's rules and with each backend's, same lab, rounds interleaved so
// that load from elsewhere hits every variant alike; medians of 3 runs.
func BenchmarkThroughput(b *testing.B) {
	e := newEngine(b, lab.Options{ISPs: 2})
	l := e.l
	if _, err := l.Start(l.Internet, "iperf3", "-s", "-B", "198.18.100.1", "-p", "5201"); err != nil {
		b.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	e.configure(wanConfig(l, 1, 1))
	p := e.plan()
	dps := map[string]*dataplane.DataPlane{}
	backends := []string{dataplane.BackendNFTables, dataplane.BackendIPTables}
	for _, backend := range backends {
		err := l.Do(l.Router, func() error {
			dp, closeFn, err := dataplane.NewKernel(backend)
			b.Cleanup(closeFn)
			dps[backend] = dp
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	rates := map[string][]float64{}
	for i := 0; i < 3; i++ {
		rates["none"] = append(rates["none"], iperf(b, l))
		for _, backend := range backends {
			err := l.Do(l.Router, func() error { _, err := dps[backend].Apply(p); return err })
			if err != nil {
				b.Fatal(err)
			}
			rates[backend] = append(rates[backend], iperf(b, l))
			if err := l.Do(l.Router, dps[backend].Flush); err != nil {
				b.Fatal(err)
			}
		}
	}
	w0, nft, ipt := medianFloat(rates["none"]), medianFloat(rates[dataplane.BackendNFTables]), medianFloat(rates[dataplane.BackendIPTables])
	b.ReportMetric(nft/w0, "nft-ratio")
	b.ReportMetric(ipt/w0, "ipt-ratio")
	report(b, "Forwarding throughput (iperf3, one TCP stream, LAN client to internet, median of 3 x 4 s, interleaved)", fmt.Sprintf(
		"  without wanlb's rules        %8.2f Gbit/s\n  with nftables rules          %8.2f Gbit/s   ratio %.3f\n  with iptables rules          %8.2f Gbit/s   ratio %.3f\n"+
			"  (veth links without rate limits: this measures the cost of the rules, not a real line)",
		w0/1e9, nft/1e9, nft/w0, ipt/1e9, ipt/w0))
}

// BenchmarkDistribution measures how closely 2000 new connections follow
// weights 3:1, median of 3 runs.
func BenchmarkDistribution(b *testing.B) {
	e := newEngine(b, lab.Options{ISPs: 2})
	e.configure(wanConfig(e.l, 3, 1))
	e.apply()
	var errs []float64
	var lines []string
	for i := 0; i < 3; i++ {
		c, err := e.l.CountISPs(e.l.Client, 2000, 80)
		if err != nil || c[0] > 0 {
			b.Fatalf("connections: %v %v", c, err)
		}
		share := float64(c[1]) / 2000
		errs = append(errs, math.Abs(share-0.75)*100)
		lines = append(lines, fmt.Sprintf("  run %d: wan1 %.3f, wan2 %.3f", i+1, share, 1-share))
	}
	report(b, "Distribution of 2000 new connections over weights 3:1 (target 0.750 / 0.250)", strings.Join(lines, "\n")+
		fmt.Sprintf("\n  median error: %.1f percentage points", medianFloat(errs)))
}
