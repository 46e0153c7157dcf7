package lab_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-iptables/iptables"

	"github.com/wanlb/wanlb/pkg/dataplane"
	"github.com/wanlb/wanlb/pkg/lab"
)

// forks reads the kernel's count of processes created since boot.
func forks(t testing.TB) int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "processes "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatal("no processes line in /proc/stat")
	return 0
}

// splitArgs splits an iptables rule line like a shell would for the
// double-quoted comments the renderer writes.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, have = !quoted, true
		case r == ' ' && !quoted:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// BenchmarkApply measures one apply of 4 WANs and 100 policy rules by a
// fresh data plane (a fresh daemon) with each firewall backend, against
// adding the same iptables rules with one go-iptables call each (what
// mwan3-style per-rule scripts do), in the same router namespace.
func BenchmarkApply(b *testing.B) {
	e := newEngine(b, lab.Options{ISPs: 4})
	l := e.l
	var text strings.Builder
	text.WriteString(wanConfig(l, 4, 3, 2, 1))
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&text, "config rule\n\toption proto 'tcp'\n\tlist dest_ip '198.19.%d.0/24'\n\toption dest_port '%d'\n\tlist wan 'wan%d'\n\n", i, 1000+i, 1+i%4)
	}
	e.configure(text.String())

	// Five runs inside one benchmark call (make bench uses -benchtime 1x),
	// reported as medians.
	const runs = 5
	backends := []string{dataplane.BackendNFTables, dataplane.BackendIPTables}
	durs, procs := map[string][]float64{}, map[string][]float64{}
	lines := map[string]int{}
	for i := 0; i < runs; i++ {
		for _, backend := range backends {
			err := l.Do(l.Router, func() error {
				dp, closeFn, err := dataplane.NewKernel(backend)
				if err != nil {
					return err
				}
				defer closeFn()
				p := e.plan()
				f0, t0 := forks(b), time.Now()
				res, err := dp.Apply(p)
				durs[backend] = append(durs[backend], float64(time.Since(t0)))
				procs[backend] = append(procs[backend], float64(forks(b)-f0))
				if err != nil {
					return err
				}
				lines[backend] = strings.Count(string(res.Desired.Firewall), "\n")
				return dp.Flush()
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		// Baseline: the same chains and rules, one iptables call each.
		err := l.Do(l.Router, func() error {
			ipt, err := iptables.New()
			if err != nil {
				return err
			}
			d, err := dataplane.Render(e.plan())
			if err != nil {
				return err
			}
			f0, t0 := forks(b), time.Now()
			for _, c := range d.Chains {
				if err := ipt.NewChain("mangle", c); err != nil {
					return err
				}
			}
			for _, line := range strings.Split(strings.TrimSpace(string(d.Mangle)), "\n") {
				args := splitArgs(line)
				if err := ipt.Append("mangle", args[1], args[2:]...); err != nil {
					return fmt.Errorf("%s: %w", line, err)
				}
			}
			durs["percall"] = append(durs["percall"], float64(time.Since(t0)))
			procs["percall"] = append(procs["percall"], float64(forks(b)-f0))
			for _, c := range d.Chains {
				ipt.ClearChain("mangle", c)
			}
			for _, c := range d.Chains {
				ipt.DeleteChain("mangle", c)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	med := func(k string) (time.Duration, float64) {
		return time.Duration(medianFloat(durs[k])), medianFloat(procs[k])
	}
	nftDur, nftProcs := med(dataplane.BackendNFTables)
	iptDur, iptProcs := med(dataplane.BackendIPTables)
	baseDur, baseProcs := med("percall")
	b.ReportMetric(float64(nftDur.Microseconds())/1000, "nft-apply-ms")
	b.ReportMetric(nftProcs, "nft-apply-procs")
	b.ReportMetric(float64(iptDur.Microseconds())/1000, "ipt-apply-ms")
	b.ReportMetric(iptProcs, "ipt-apply-procs")
	b.ReportMetric(float64(baseDur.Microseconds())/1000, "percall-ms")
	b.ReportMetric(baseProcs, "percall-procs")
	var body strings.Builder
	fmt.Fprintf(&body, "  %-44s %10s %10s\n", "", "wall", "processes")
	fmt.Fprintf(&body, "  %-44s %10s %10.0f\n", fmt.Sprintf("wanlb nftables (one nft -f -, %d lines)", lines[dataplane.BackendNFTables]), nftDur.Round(100*time.Microsecond), nftProcs)
	fmt.Fprintf(&body, "  %-44s %10s %10.0f\n", fmt.Sprintf("wanlb iptables (one iptables-restore, %d lines)", lines[dataplane.BackendIPTables]), iptDur.Round(100*time.Microsecond), iptProcs)
	fmt.Fprintf(&body, "  %-44s %10s %10.0f\n", "one go-iptables call per rule", baseDur.Round(100*time.Microsecond), baseProcs)
	fmt.Fprintf(&body, "  ratio (per-call / wanlb nftables)            %9.1fx %9.1fx\n", float64(baseDur)/float64(nftDur), baseProcs/max(nftProcs, 1))
	fmt.Fprintf(&body, "  (processes counted from /proc/stat, Go runtime threads included; the iptables\n"+
		"   backend also runs its jump checks, one process each)")
	report(b, fmt.Sprintf("Apply of 4 WANs and 100 policy rules, each backend, median of %d runs", runs), body.String())
}
