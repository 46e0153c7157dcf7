// Package monitor runs the probe rounds of every probed WAN and sends
// each finished round on a channel. It holds no daemon state: the daemon
// restarts it with new specs when marks, devices or settings change, and
// every restart starts a new generation so rounds of the old probers,
// still in flight, can be told apart and dropped.
package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/probe"
	"github.com/wanlb/wanlb/internal/tracker"
)

// Round is one finished probe round of one WAN.
type Round struct {
	WAN     string
	Gen     int       // the generation of the prober that ran it
	Started time.Time // when its probes went out; Round.At is when it ended
	Round   tracker.Round
}

// Spec says how to probe one WAN.
type Spec struct {
	WAN      string
	Via      probe.Via
	Targets  []config.Target
	Interval time.Duration
	Timeout  time.Duration
}

// ProbeFunc sends one probe; probe.Probe is the real one.
type ProbeFunc func(context.Context, probe.Via, config.Target) probe.Result

// Monitor runs one prober per Spec. Its methods are for one goroutine
// (the daemon's state goroutine); the probers only send on out.
type Monitor struct {
	out    chan<- Round
	probe  ProbeFunc
	log    *slog.Logger
	gen    int
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a monitor sending rounds on out; fn nil means probe.Probe.
func New(out chan<- Round, fn ProbeFunc, log *slog.Logger) *Monitor {
	if fn == nil {
		fn = probe.Probe
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Monitor{out: out, probe: fn, log: log}
}

// Gen is the current generation: rounds carrying another are stale.
func (m *Monitor) Gen() int { return m.gen }

// Restart stops every prober and starts one per spec, in a new
// generation, until ctx ends or the next Restart or Stop.
func (m *Monitor) Restart(ctx context.Context, specs []Spec) {
	if m.cancel != nil {
		m.cancel()
	}
	m.gen++
	pctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	for _, s := range specs {
		m.wg.Add(1)
		go m.prober(pctx, m.gen, s)
	}
}

// Stop ends every prober and waits until none runs and no probe is still
// out.
func (m *Monitor) Stop() {
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
}

// prober starts a round every interval. Rounds run on their own, so a
// round waiting out its timeout never delays the next one: that keeps the
// worst-case detection at down x interval + timeout even when timeout is
// longer than interval.
func (m *Monitor) prober(ctx context.Context, gen int, s Spec) {
	defer m.wg.Done()
	tick := time.NewTicker(s.Interval)
	defer tick.Stop()
	for {
		m.wg.Add(1)
		go m.round(ctx, gen, s)
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// round probes every target at once and reports when all have answered
// or the timeout has passed, whichever is first: a probe that overruns its
// deadline (a blocked read may return a little late) counts as failed,
// so detection keeps its bound.
func (m *Monitor) round(ctx context.Context, gen int, s Spec) {
	defer m.wg.Done()
	started := time.Now()
	rctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	type answer struct {
		i int
		r probe.Result
	}
	answers := make(chan answer, len(s.Targets))
	for i, t := range s.Targets {
		// Counted too: a probe still returning from its deadline must
		// not outlive Stop.
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			answers <- answer{i, m.probeTwice(rctx, s.Via, t, s.Timeout)}
		}()
	}
	results := make([]tracker.Result, len(s.Targets))
collect:
	for range s.Targets {
		select {
		case a := <-answers:
			results[a.i] = tracker.Result{OK: a.r.OK, RTT: a.r.RTT}
			if !a.r.OK && a.r.Err != nil {
				m.log.Debug(fmt.Sprintf("%s probe %s: %v", s.WAN, s.Targets[a.i].Raw, a.r.Err))
			}
		case <-rctx.Done():
			break collect
		}
	}
	if ctx.Err() != nil {
		return
	}
	select {
	case m.out <- Round{WAN: s.WAN, Gen: gen, Started: started, Round: tracker.Round{At: time.Now(), Results: results}}:
	case <-ctx.Done():
	}
}

// probeTwice gives a target a second chance within its round: when no
// answer came by half the timeout, or the first probe failed early, a
// second probe goes out. One lost packet then does not fail the target, so
// a line with 10% loss keeps every round good, while a dead line still fails
// every round by the same deadline.
func (m *Monitor) probeTwice(ctx context.Context, via probe.Via, t config.Target, timeout time.Duration) probe.Result {
	results := make(chan probe.Result, 2)
	send := func() { results <- m.probe(ctx, via, t) }
	go send()
	second := time.NewTimer(timeout / 2)
	defer second.Stop()
	pending, sent := 1, 1
	var last probe.Result
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			if r.OK {
				return r
			}
			last = r
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
	return last
}
