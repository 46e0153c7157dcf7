package monitor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/probe"
)

func target(t *testing.T, s string) config.Target {
	t.Helper()
	tg, err := config.ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// next waits for a round, failing after 10 s.
func next(t *testing.T, rounds <-chan Round) Round {
	t.Helper()
	select {
	case r := <-rounds:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no round within 10 s")
		return Round{}
	}
}

// scripted answers each target's n-th probe from its script; past the
// script's end it answers like the script's last entry. "ok" answers,
// "fail" fails at once, "silent" waits for the round's deadline.
type scripted struct {
	mu     sync.Mutex
	active int // probes not returned yet
	script map[string][]string
	calls  map[string][]time.Time
}

func (s *scripted) probe(ctx context.Context, _ probe.Via, t config.Target) probe.Result {
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[string][]time.Time{}
	}
	n := len(s.calls[t.Raw])
	s.calls[t.Raw] = append(s.calls[t.Raw], time.Now())
	sc := s.script[t.Raw]
	what := sc[min(n, len(sc)-1)]
	s.active++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
	}()
	switch what {
	case "ok":
		return probe.Result{OK: true, RTT: time.Millisecond}
	case "fail":
		return probe.Result{Err: errors.New("unreachable")}
	}
	<-ctx.Done()
	return probe.Result{Err: ctx.Err()}
}

func (s *scripted) count(raw string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls[raw])
}

func TestRoundResultsPerTarget(t *testing.T) {
	s := &scripted{script: map[string][]string{"198.18.100.1": {"ok"}, "198.18.100.2": {"silent"}}}
	rounds := make(chan Round, 16)
	m := New(rounds, s.probe, nil)
	m.Restart(t.Context(), []Spec{{WAN: "wan1", Targets: []config.Target{target(t, "198.18.100.1"), target(t, "198.18.100.2")},
		Interval: time.Hour, Timeout: time.Second}}) // the silent target waits it out
	r := next(t, rounds)
	m.Stop()
	if r.WAN != "wan1" || r.Gen != 1 || len(r.Round.Results) != 2 {
		t.Fatalf("round: %+v", r)
	}
	if !r.Round.Results[0].OK || r.Round.Results[0].RTT != time.Millisecond || r.Round.Results[1].OK {
		t.Errorf("results: %+v, want the first target ok and the silent one failed", r.Round.Results)
	}
}

// TestSecondChance: one lost probe does not fail a target, whether the
// loss shows as an early failure or as silence until half the timeout.
func TestSecondChance(t *testing.T) {
	for _, first := range []string{"fail", "silent"} {
		t.Run(first, func(t *testing.T) {
			s := &scripted{script: map[string][]string{"198.18.100.1": {first, "ok"}}}
			rounds := make(chan Round, 16)
			m := New(rounds, s.probe, nil)
			timeout := 2 * time.Second // the second probe goes at half of it
			m.Restart(t.Context(), []Spec{{WAN: "wan1", Targets: []config.Target{target(t, "198.18.100.1")}, Interval: time.Hour, Timeout: timeout}})
			r := next(t, rounds)
			m.Stop()
			if !r.Round.Results[0].OK {
				t.Errorf("after a first %s probe the target failed the round", first)
			}
			if n := s.count("198.18.100.1"); n != 2 {
				t.Errorf("%d probes, want 2", n)
			}
			if first == "silent" {
				s.mu.Lock()
				gap := s.calls["198.18.100.1"][1].Sub(s.calls["198.18.100.1"][0])
				s.mu.Unlock()
				if gap < timeout/2 {
					t.Errorf("the second probe went out after %s, before half the timeout", gap)
				}
			}
		})
	}
}

// TestDeadTargetFailsEveryRound: a dead target fails by the timeout, with
// two probes and no more.
func TestDeadTargetFailsEveryRound(t *testing.T) {
	s := &scripted{script: map[string][]string{"198.18.100.1": {"fail"}}}
	rounds := make(chan Round, 16)
	m := New(rounds, s.probe, nil)
	m.Restart(t.Context(), []Spec{{WAN: "wan1", Targets: []config.Target{target(t, "198.18.100.1")}, Interval: time.Hour, Timeout: time.Second}})
	r := next(t, rounds)
	m.Stop()
	if r.Round.Results[0].OK || s.count("198.18.100.1") != 2 {
		t.Errorf("dead target: %+v after %d probes", r.Round.Results, s.count("198.18.100.1"))
	}
}

// TestRoundsOverlap: a round waiting out a timeout longer than the
// interval does not delay the next round, so detection keeps its bound.
func TestRoundsOverlap(t *testing.T) {
	s := &scripted{script: map[string][]string{"198.18.100.1": {"silent"}}}
	rounds := make(chan Round, 16)
	m := New(rounds, s.probe, nil)
	startAt := time.Now()
	m.Restart(t.Context(), []Spec{{WAN: "wan1", Targets: []config.Target{target(t, "198.18.100.1")},
		Interval: 20 * time.Millisecond, Timeout: time.Second}})
	for range 3 {
		next(t, rounds)
	}
	m.Stop()
	// One after another, three rounds take 3 s; overlapping, about 1 s.
	if took := time.Since(startAt); took > 2500*time.Millisecond {
		t.Errorf("three rounds took %s: each waited for the one before", took)
	}
}

// TestRestartStartsANewGeneration: after Restart the rounds of the new
// probers carry the new generation; the old ones' may still arrive.
func TestRestartStartsANewGeneration(t *testing.T) {
	s := &scripted{script: map[string][]string{"198.18.100.1": {"ok"}}}
	rounds := make(chan Round, 64)
	m := New(rounds, s.probe, nil)
	spec := Spec{WAN: "wan1", Targets: []config.Target{target(t, "198.18.100.1")}, Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond}
	m.Restart(t.Context(), []Spec{spec})
	if r := next(t, rounds); r.Gen != 1 || m.Gen() != 1 {
		t.Fatalf("first generation: round %d, monitor %d", r.Gen, m.Gen())
	}
	spec.WAN = "wan2"
	m.Restart(t.Context(), []Spec{spec})
	for {
		r := next(t, rounds)
		if r.Gen == 2 {
			if r.WAN != "wan2" {
				t.Fatalf("generation 2 round of %s", r.WAN)
			}
			break
		}
		if r.WAN != "wan1" {
			t.Fatalf("generation %d round of %s", r.Gen, r.WAN)
		}
	}
	m.Stop()
}

// TestContextEndsProbing: the caller's context ending stops the probers.
func TestContextEndsProbing(t *testing.T) {
	s := &scripted{script: map[string][]string{"198.18.100.1": {"ok"}}}
	rounds := make(chan Round) // unbuffered: a prober blocks sending
	m := New(rounds, s.probe, nil)
	ctx, cancel := context.WithCancel(t.Context())
	m.Restart(ctx, []Spec{{WAN: "wan1", Targets: []config.Target{target(t, "198.18.100.1")}, Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond}})
	next(t, rounds)
	cancel()
	done := make(chan struct{})
	go func() { m.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return after the context ended")
	}
}

// TestStopWaitsForProbes: when Stop returns no probe is still running,
// even one that was waiting for its deadline.
func TestStopWaitsForProbes(t *testing.T) {
	s := &scripted{script: map[string][]string{"198.18.100.1": {"silent"}}}
	m := New(make(chan Round, 16), s.probe, nil)
	m.Restart(t.Context(), []Spec{{WAN: "wan1", Targets: []config.Target{target(t, "198.18.100.1")}, Interval: time.Hour, Timeout: time.Hour}})
	deadline := time.Now().Add(10 * time.Second)
	for s.count("198.18.100.1") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no probe sent")
		}
		time.Sleep(time.Millisecond)
	}
	m.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active != 0 {
		t.Errorf("%d probes still running after Stop", s.active)
	}
}
