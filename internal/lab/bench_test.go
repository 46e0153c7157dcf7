package lab_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-iptables/iptables"

	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/lab"
)

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

// execShims puts shims first on PATH that count every nft and
// iptables-family program started, then run the real one: exact, where
// /proc/stat's fork counter also sees every other process on the machine.
// count reads the total so far; restore puts PATH back. Timing is
// measured without the shims.
func execShims(b *testing.B) (count func() int, restore func()) {
	dir := b.TempDir()
	file := filepath.Join(dir, "count")
	for _, name := range []string{"nft", "iptables", "iptables-restore", "iptables-save", "ip6tables", "ip6tables-restore", "ip6tables-save"} {
		real, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		script := fmt.Sprintf("#!/bin/sh\necho %s >> %s\nexec %s \"$@\"\n", name, file, real)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	path := os.Getenv("PATH")
	os.Setenv("PATH", dir+":"+path)
	return func() int {
			out, _ := os.ReadFile(file)
			return strings.Count(string(out), "\n")
		}, func() {
			os.Setenv("PATH", path)
		}
}

// BenchmarkApply measures one apply of 4 WANs and 100 policy rules with
// each firewall backend, as a running daemon makes it when a WAN comes
// back (the data plane has applied the plan without that WAN before, so
// the Go runtime has its threads and only the apply's own processes are
// counted), against
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
	// Baseline: the same chains and rules, one iptables call each.
	perCall := func() (took time.Duration, err error) {
		err = l.Do(l.Router, func() error {
			ipt, err := iptables.New()
			if err != nil {
				return err
			}
			d, err := dataplane.Render(e.plan())
			if err != nil {
				return err
			}
			t0 := time.Now()
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
			took = time.Since(t0)
			for _, c := range d.Chains {
				ipt.ClearChain("mangle", c)
			}
			for _, c := range d.Chains {
				ipt.DeleteChain("mangle", c)
			}
			return nil
		})
		return took, err
	}
	for i := 0; i < runs; i++ {
		for _, backend := range backends {
			err := l.Do(l.Router, func() error {
				dp, closeFn, err := dataplane.NewKernel(backend)
				if err != nil {
					return err
				}
				defer closeFn()
				if _, err := dp.Apply(e.plan(1, 2, 3)); err != nil {
					return err
				}
				p := e.plan()
				t0 := time.Now()
				res, err := dp.Apply(p)
				durs[backend] = append(durs[backend], float64(time.Since(t0)))
				if err != nil {
					return err
				}
				lines[backend] = strings.Count(string(res.Desired.Firewall), "\n")
				if backend == dataplane.BackendNFTables {
					// The same plan again as a full sync (start, repair,
					// after a failure): the whole table replaced.
					dp.RequestFullSync()
					t0 := time.Now()
					_, err := dp.Apply(p)
					durs["nft-full"] = append(durs["nft-full"], float64(time.Since(t0)))
					if err != nil {
						return err
					}
				}
				return dp.Flush()
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		d, err := perCall()
		if err != nil {
			b.Fatal(err)
		}
		durs["percall"] = append(durs["percall"], float64(d))
	}
	// Processes, counted once per backend in the same sequence.
	for _, backend := range backends {
		count, restore := execShims(b)
		err := l.Do(l.Router, func() error {
			dp, closeFn, err := dataplane.NewKernel(backend)
			if err != nil {
				return err
			}
			defer closeFn()
			if _, err := dp.Apply(e.plan(1, 2, 3)); err != nil {
				return err
			}
			n := count()
			if _, err := dp.Apply(e.plan()); err != nil {
				return err
			}
			procs[backend] = []float64{float64(count() - n)}
			if backend == dataplane.BackendNFTables {
				n = count()
				dp.RequestFullSync()
				if _, err := dp.Apply(e.plan()); err != nil {
					return err
				}
				procs["nft-full"] = []float64{float64(count() - n)}
			}
			return dp.Flush()
		})
		restore()
		if err != nil {
			b.Fatal(err)
		}
	}
	count, restore := execShims(b)
	_, err := perCall()
	// Everything the shims saw: the calls, and the same number again
	// to clear and delete the chains, which are not timed.
	procs["percall"] = []float64{float64(count())}
	restore()
	if err != nil {
		b.Fatal(err)
	}
	med := func(k string) (time.Duration, float64) {
		return time.Duration(medianFloat(durs[k])), medianFloat(procs[k])
	}
	nftDur, nftProcs := med(dataplane.BackendNFTables)
	fullDur, fullProcs := med("nft-full")
	iptDur, iptProcs := med(dataplane.BackendIPTables)
	baseDur, baseProcs := med("percall")
	b.ReportMetric(float64(nftDur.Microseconds())/1000, "nft-apply-ms")
	b.ReportMetric(nftProcs, "nft-apply-procs")
	b.ReportMetric(float64(fullDur.Microseconds())/1000, "nft-full-ms")
	b.ReportMetric(float64(iptDur.Microseconds())/1000, "ipt-apply-ms")
	b.ReportMetric(iptProcs, "ipt-apply-procs")
	b.ReportMetric(float64(baseDur.Microseconds())/1000, "percall-ms")
	b.ReportMetric(baseProcs, "percall-procs")
	var body strings.Builder
	fmt.Fprintf(&body, "  %-50s %10s %10s\n", "", "wall", "processes")
	fmt.Fprintf(&body, "  %-50s %10s %10.0f\n", "wanlb nftables, changed chains (one nft -f -)", nftDur.Round(100*time.Microsecond), nftProcs)
	fmt.Fprintf(&body, "  %-50s %10s %10.0f\n", fmt.Sprintf("wanlb nftables, full sync (one nft -f -, %d lines)", lines[dataplane.BackendNFTables]), fullDur.Round(100*time.Microsecond), fullProcs)
	fmt.Fprintf(&body, "  %-50s %10s %10.0f\n", fmt.Sprintf("wanlb iptables (one iptables-restore, %d lines)", lines[dataplane.BackendIPTables]), iptDur.Round(100*time.Microsecond), iptProcs)
	fmt.Fprintf(&body, "  %-50s %10s %10.0f\n", "one go-iptables call per rule", baseDur.Round(100*time.Microsecond), baseProcs)
	fmt.Fprintf(&body, "  %-50s %9.1fx %9.1fx\n", "ratio (per-call / wanlb nftables)", float64(baseDur)/float64(nftDur), baseProcs/max(nftProcs, 1))
	fmt.Fprintf(&body, "  (processes: programs started, counted by PATH shims; per-call includes the\n"+
		"   untimed clear and delete calls; wanlb iptables also checks its three jumps)")
	report(b, fmt.Sprintf("Apply of 4 WANs and 100 policy rules, each backend, median of %d runs", runs), body.String())
}
