package auth

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	type op struct {
		advance time.Duration // clock step before the action
		do      string        // "fail", "succeed" or "check"
		client  string
		blocked bool // for "check": expected Blocked result
	}
	fail := func(c string) op { return op{do: "fail", client: c} }
	check := func(c string, blocked bool) op { return op{do: "check", client: c, blocked: blocked} }
	failN := func(c string, n int) []op {
		var ops []op
		for range n {
			ops = append(ops, check(c, false), fail(c))
		}
		return ops
	}
	cat := func(parts ...[]op) []op {
		var out []op
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{"four failures pass", cat(failN("a", 4), []op{check("a", false)})},
		{"five failures block", cat(failN("a", 5), []op{check("a", true)})},
		{
			// The sixth attempt is refused, and refusing it does not
			// count as a further failure.
			"sixth attempt blocked",
			cat(failN("a", 5), []op{check("a", true), check("a", true)}),
		},
		{
			"unblocked after the window",
			cat(failN("a", 5), []op{
				{advance: 59 * time.Second, do: "check", client: "a", blocked: true},
				{advance: time.Second, do: "check", client: "a", blocked: false},
			}),
		},
		{
			// Failures spread over more than a window never block.
			"slow failures",
			[]op{
				fail("a"), {advance: 20 * time.Second, do: "fail", client: "a"},
				{advance: 20 * time.Second, do: "fail", client: "a"},
				{advance: 20 * time.Second, do: "fail", client: "a"}, // first one left the window
				{advance: 10 * time.Second, do: "fail", client: "a"},
				check("a", false),
			},
		},
		{
			// After the block lifts one more failure blocks again until
			// the second-oldest failure leaves the window.
			"sliding log",
			cat(
				[]op{fail("a"), {advance: 10 * time.Second, do: "fail", client: "a"}},
				[]op{fail("a"), fail("a"), fail("a"), check("a", true)},
				[]op{{advance: 50 * time.Second, do: "check", client: "a", blocked: false}},
				[]op{fail("a"), check("a", true)},
				[]op{{advance: 10 * time.Second, do: "check", client: "a", blocked: false}},
			),
		},
		{
			"success clears",
			cat(failN("a", 4), []op{{do: "succeed", client: "a"}}, failN("a", 4), []op{check("a", false)}),
		},
		{
			"success clears a block",
			cat(failN("a", 5), []op{check("a", true), {do: "succeed", client: "a"}, check("a", false)}),
		},
		{
			"clients are isolated",
			cat(failN("a", 5), []op{check("a", true), check("b", false)}, failN("b", 4),
				[]op{check("b", false), {do: "succeed", client: "b"}, check("a", true)}),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			l := NewLimiter(5, time.Minute, clock.Now)
			for i, o := range tc.ops {
				clock.Advance(o.advance)
				switch o.do {
				case "fail":
					l.Fail(o.client)
				case "succeed":
					l.Succeed(o.client)
				case "check":
					if got := l.Blocked(o.client); got != o.blocked {
						t.Fatalf("op %d: Blocked(%q) = %v, want %v", i, o.client, got, o.blocked)
					}
				}
			}
		})
	}
}

func TestLimiterDefaults(t *testing.T) {
	clock := newFakeClock()
	l := NewLimiter(0, 0, clock.Now)
	for range DefaultMaxFailures {
		l.Fail("a")
	}
	if !l.Blocked("a") {
		t.Fatal("not blocked after the default number of failures")
	}
	clock.Advance(DefaultFailureWindow)
	if l.Blocked("a") {
		t.Fatal("still blocked after the default window")
	}
}

func TestLimiterMemory(t *testing.T) {
	t.Run("stale clients forgotten", func(t *testing.T) {
		clock := newFakeClock()
		l := NewLimiter(5, time.Minute, clock.Now)
		for i := range 1000 {
			l.Fail("10.0.0." + strconv.Itoa(i))
		}
		clock.Advance(time.Minute)
		l.Fail("fresh")
		if n := len(l.clients); n != 1 || l.order.Len() != 1 {
			t.Fatalf("%d clients remembered (list %d), want 1", n, l.order.Len())
		}
	})
	t.Run("capped, oldest dropped", func(t *testing.T) {
		clock := newFakeClock()
		l := NewLimiter(5, time.Minute, clock.Now)
		for range 5 {
			l.Fail("first")
		}
		for i := range MaxLimiterClients + 100 {
			l.Fail("c" + strconv.Itoa(i))
		}
		if n := len(l.clients); n != MaxLimiterClients || l.order.Len() != MaxLimiterClients {
			t.Fatalf("%d clients remembered (list %d), want %d", n, l.order.Len(), MaxLimiterClients)
		}
		if l.Blocked("first") {
			t.Fatal("the oldest client was not the one dropped")
		}
		newest := "c" + strconv.Itoa(MaxLimiterClients+99)
		if _, ok := l.clients[newest]; !ok {
			t.Fatal("the newest client was dropped")
		}
	})
	t.Run("failure times bounded per client", func(t *testing.T) {
		l := NewLimiter(5, time.Minute, newFakeClock().Now)
		for range 1000 {
			l.Fail("a")
		}
		if n := len(l.clients["a"].Value.(*clientFailures).times); n != 5 {
			t.Fatalf("%d failure times kept, want 5", n)
		}
	})
}

func TestLimiterConcurrent(t *testing.T) {
	// Run with -race.
	l := NewLimiter(5, time.Minute, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := "client" + strconv.Itoa(g%3)
			for range 200 {
				l.Fail(c)
				l.Blocked(c)
				l.Succeed(c)
			}
		}()
	}
	wg.Wait()
}
