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

// BenchmarkApply measures one apply of 4 WANs and 100 policy rules against
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
	var applyDurs, baseDurs, applyProcsN, baseProcsN []float64
	var rules int
	for i := 0; i < runs; i++ {
		var applyDur, baseDur time.Duration
		var applyProcs, baseProcs int
		// wanlb: a fresh data plane (a fresh daemon) applies the plan.
		err := l.Do(l.Router, func() error {
			dp, closeFn, err := dataplane.NewKernel("iptables")
			if err != nil {
				return err
			}
			defer closeFn()
			p := e.plan()
			f0, t0 := forks(b), time.Now()
			res, err := dp.Apply(p)
			applyDur += time.Since(t0)
			applyProcs += forks(b) - f0
			rules = strings.Count(string(res.Desired.Mangle), "\n")
			if err != nil {
				return err
			}
			return dp.Flush()
		})
		if err != nil {
			b.Fatal(err)
		}
		// Baseline: the same chains and rules, one iptables call each.
		err = l.Do(l.Router, func() error {
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
			baseDur += time.Since(t0)
			baseProcs += forks(b) - f0
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
		applyDurs, baseDurs = append(applyDurs, float64(applyDur)), append(baseDurs, float64(baseDur))
		applyProcsN, baseProcsN = append(applyProcsN, float64(applyProcs)), append(baseProcsN, float64(baseProcs))
	}
	applyDur, baseDur := time.Duration(medianFloat(applyDurs)), time.Duration(medianFloat(baseDurs))
	applyProcs, baseProcs := medianFloat(applyProcsN), medianFloat(baseProcsN)
	b.ReportMetric(float64(applyDur.Milliseconds()), "apply-ms")
	b.ReportMetric(applyProcs, "apply-procs")
	b.ReportMetric(float64(baseDur.Milliseconds()), "percall-ms")
	b.ReportMetric(baseProcs, "percall-procs")
	var body strings.Builder
	fmt.Fprintf(&body, "  %-34s %10s %10s\n", "", "wall", "processes")
	fmt.Fprintf(&body, "  %-34s %10s %10.0f\n", "wanlb (one iptables-restore)", applyDur.Round(100*time.Microsecond), applyProcs)
	fmt.Fprintf(&body, "  %-34s %10s %10.0f\n", "one go-iptables call per rule", baseDur.Round(100*time.Microsecond), baseProcs)
	fmt.Fprintf(&body, "  ratio (per-call / wanlb)            %9.1fx %9.1fx\n", float64(baseDur)/float64(applyDur), baseProcs/applyProcs)
	fmt.Fprintf(&body, "  (processes counted from /proc/stat, Go runtime threads included)")
	report(b, fmt.Sprintf("Apply of 4 WANs and 100 policy rules (%d iptables rules), median of %d runs", rules, runs), body.String())
}
