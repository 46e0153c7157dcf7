package lab_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/daemon"
	"github.com/wanlb/wanlb/internal/lab"
)

// BenchmarkFW4Repair measures, on a router firewalled by OpenWrt's fw4 and
// balancing over two WANs, how long after each firewall command wanlb's
// rules are back and new connections are balanced again: medians of 3.
func BenchmarkFW4Repair(b *testing.B) {
	l := newFW4Lab(b, lab.Options{ISPs: 2})
	// Detection defaults (down 3): a WAN whose probes fail while wanlb's
	// rules are missing may go offline, as it would on a router.
	d := startFW4Daemon(b, l, fw4WANs(l, ""))
	backend := d.backend()
	steps := fw4Steps(l)
	type runs struct {
		cmd, rules, balanced []time.Duration
		changes, offline     int
	}
	res := make([]runs, len(steps))
	for i := 0; i < 3; i++ {
		for j, step := range steps {
			r := runFW4Step(b, l, d, backend, step, 20*time.Second)
			res[j].cmd = append(res[j].cmd, r.cmd)
			res[j].rules = append(res[j].rules, r.rules)
			res[j].balanced = append(res[j].balanced, r.balanced)
			res[j].changes += len(r.changes)
			if r.offline {
				res[j].offline++
			}
		}
	}
	// `fw4 flush` alone, the firewall left down: how soon wanlb's rules are
	// back, before anything else changes the ruleset.
	var flushCmd, flushRules []time.Duration
	for i := 0; i < 3; i++ {
		start := time.Now()
		if _, err := l.FW4("flush"); err != nil {
			b.Fatal(err)
		}
		flushCmd = append(flushCmd, time.Since(start))
		for !rulesPresent(l, backend) {
			if time.Since(start) > 20*time.Second {
				b.Fatalf("wanlb's rules not back within 20s of fw4 flush")
			}
			time.Sleep(5 * time.Millisecond)
		}
		flushRules = append(flushRules, time.Since(start))
		if err := l.FW4Up(); err != nil {
			b.Fatal(err)
		}
		waitRestored(b, l, backend, start, 20*time.Second)
		d.waitAllOnline(20 * time.Second)
	}
	var body strings.Builder
	fmt.Fprintf(&body, "  %-30s %9s %12s %10s   %s\n", "firewall command", "command", "rules back", "balanced", "WAN state changes / runs with a WAN offline (of 3)")
	for j, step := range steps {
		r := res[j]
		fmt.Fprintf(&body, "  %-30s %7.2f s %10.2f s %8.2f s   %d / %d\n", step.name,
			median(r.cmd).Seconds(), median(r.rules).Seconds(), median(r.balanced).Seconds(), r.changes, r.offline)
	}
	fmt.Fprintf(&body, "  %-30s %7.2f s %10.2f s %10s\n", "fw4 flush (firewall left down)", median(flushCmd).Seconds(), median(flushRules).Seconds(), "-")
	fmt.Fprintf(&body, "  (backend %s; times from the start of the command; new connections: 30 from the LAN client over both WANs", backend)
	if backend == backendIPT {
		fmt.Fprintf(&body, "; this backend checks its rules every %s", daemon.RepairInterval)
	}
	body.WriteString(")")
	report(b, "Beside OpenWrt's fw4: wanlb back after firewall commands (median of 3)", body.String())
}
