package passive

import (
	"context"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/probe"
)

// ProbeFunc sends one probe; probe.Probe is the real one.
type ProbeFunc func(context.Context, probe.Via, config.Target) probe.Result

// Burst confirms a suspicion: every target is probed at once, and a
// target with no answer by half the timeout gets a second probe, so one
// lost packet cannot fail it. It reports whether any target answered
// within timeout, as soon as one does; none means the WAN is dead.
func Burst(ctx context.Context, fn ProbeFunc, via probe.Via, targets []config.Target, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ok := make(chan bool, 2*len(targets))
	for _, t := range targets {
		go func() {
			first := make(chan bool, 2)
			send := func() { first <- fn(ctx, via, t).OK }
			go send()
			second := time.NewTimer(timeout / 2)
			defer second.Stop()
			pending, sent := 1, 1
			for pending > 0 {
				select {
				case r := <-first:
					pending--
					if r {
						ok <- true
						return
					}
					if sent == 1 && ctx.Err() == nil {
						sent, pending = 2, pending+1
						go send()
					}
				case <-second.C:
					if sent == 1 {
						sent, pending = 2, pending+1
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
