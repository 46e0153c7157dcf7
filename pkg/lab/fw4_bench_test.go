package lab_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/pkg/daemon"
	"github.com/wanlb/wanlb/pkg/lab"
)

// BenchmarkFW4Repair measures, on a router firewalled by OpenWrt's fw4 and
// balancing over two WANs, how long after each firewall command wanlb's
// rules are back and new connections are balanced again: medians of 3.
func BenchmarkFW4Repair(b *testing.B) {
	l := newFW4Lab(b, lab.Options{ISPs: 2})
	// Detection defaults (down 3): a WAN whose probes fail while wanlb's
	// rules are missing may go offline, as it would on a router.
	d, _ := startFW4Daemon(b, l, fw4WANs(l, ""))
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
	var body strings.Builder
	fmt.Fprintf(&body, "  %-30s %9s %12s %10s   %s\n", "firewall command", "command", "rules back", "balanced", "WAN state changes / runs with a WAN offline (of 3)")
	for j, step := range steps {
		r := res[j]
		fmt.Fprintf(&body, "  %-30s %7.2f s %10.2f s %8.2f s   %d / %d\n", step.name,
			median(r.cmd).Seconds(), median(r.rules).Seconds(), median(r.balanced).Seconds(), r.changes, r.offline)
	}
	fmt.Fprintf(&body, "  (backend %s; times from the start of the command; the daemon checks its rules every %s)", backend, daemon.RepairInterval)
	report(b, "Beside OpenWrt's fw4: wanlb back after firewall commands (median of 3)", body.String())
}
