package passive

import (
	"context"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/probe"
)

// ProbeFunc sends one probe; probe.Probe is the real one.
type ProbeFunc func(context.Context, probe.Via, config.Target) probe.Result

// Tries is how many probes a burst sends each target at most, all within
// the first half of the burst so that each has at least half of it (the
// burst lasts at least 4 RTTs) to come back. A try fails when either of
// its packets is lost: with 30% loss each way, about half of them. A live
// target then fails a burst about once in 57 (0.51^6), and three live
// targets all fail it about once in 180,000 bursts. With 4 tries spread
// over the whole burst, as before, it was once in 3000, and the last try
// had no time to come back on a slow line.
const Tries = 6

// Burst confirms a suspicion: every target is probed at once, and again
// every timeout/(2·Tries) (or at once after a probe fails early) until it
// answers, so lost packets cannot fail it. It reports whether any target
// answered within timeout, as soon as one does; none means the WAN is dead.
func Burst(ctx context.Context, fn ProbeFunc, via probe.Via, targets []config.Target, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ok := make(chan bool, len(targets))
	for _, t := range targets {
		go func() {
			results := make(chan bool, Tries)
			send := func() { results <- fn(ctx, via, t).OK }
			go send()
			tick := time.NewTicker(timeout / (2 * Tries))
			defer tick.Stop()
			pending, sent := 1, 1
			for pending > 0 {
				select {
				case r := <-results:
					pending--
					if r {
						ok <- true
						return
					}
					if sent < Tries && ctx.Err() == nil {
						sent, pending = sent+1, pending+1
						go send()
					}
				case <-tick.C:
					if sent < Tries {
						sent, pending = sent+1, pending+1
						go send()
					}
				}
			}
			ok <- false
		}()
	}
	for range targets {
		select {
		case r := <-ok:
			if r {
				return true
			}
		case <-ctx.Done():
			return false
		}
	}
	return false
}
