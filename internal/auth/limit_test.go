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
			// A login to any account must not buy more guesses at
			// another: failures only age out.
			"success does not clear",
			cat(failN("a", 4), []op{{do: "succeed", client: "a"}, check("a", false), fail("a"), check("a", true)}),
		},
		{
			"success does not count",
			cat(failN("a", 4), []op{{do: "succeed", client: "a"}, {do: "succeed", client: "a"}, check("a", false)}),
		},
		{
			"clients are isolated",
			cat(failN("a", 5), []op{check("a", true), check("b", false)}, failN("b", 4),
				[]op{check("b", false), check("a", true)}),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			l := NewLimiter(5, time.Minute, clock.Now)
			for i, o := range tc.ops {
				clock.Advance(o.advance)
				switch o.do {
				case "fail", "succeed":
					a := l.Begin(o.client)
					if a == nil {
						t.Fatalf("op %d: Begin(%q) refused", i, o.client)
					}
					if o.do == "fail" {
						a.Fail()
					} else {
						a.Release()
					}
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
		fail(l, "a")
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
			fail(l, "10.0.0."+strconv.Itoa(i))
		}
		clock.Advance(time.Minute)
		fail(l, "fresh")
		if n := len(l.clients); n != 1 || l.order.Len() != 1 {
			t.Fatalf("%d clients remembered (list %d), want 1", n, l.order.Len())
		}
	})
	t.Run("capped, oldest dropped", func(t *testing.T) {
		clock := newFakeClock()
		l := NewLimiter(5, time.Minute, clock.Now)
		for range 5 {
			fail(l, "first")
		}
		for i := range MaxLimiterClients + 100 {
			fail(l, "c"+strconv.Itoa(i))
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
			fail(l, "a")
		}
		if n := len(l.clients["a"].Value.(*clientFailures).times); n != 5 {
			t.Fatalf("%d failure times kept, want 5", n)
		}
	})
}

// fail records one failed login of c, if the limiter lets it be judged.
func fail(l *Limiter, c string) {
	if a := l.Begin(c); a != nil {
		a.Fail()
	}
}

// TestLimiterReservesBeforeJudging is the attack that judged 499 guesses
// in half a second: many logins of one client start before any has
// failed. Only max of them may be judged. Run with -race.
func TestLimiterReservesBeforeJudging(t *testing.T) {
	l := NewLimiter(5, time.Minute, nil)
	const guesses = 500
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		reserved []*Attempt
		start    = make(chan struct{})
	)
	for range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if a := l.Begin("198.18.0.7"); a != nil {
				mu.Lock()
				reserved = append(reserved, a)
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(reserved) != 5 {
		t.Fatalf("%d of %d simultaneous logins may be judged, want 5", len(reserved), guesses)
	}
	// Released slots (no answer, or a success) can be used again;
	// failures cannot.
	reserved[0].Release()
	if a := l.Begin("198.18.0.7"); a == nil {
		t.Fatal("a released slot was not given back")
	} else {
		a.Fail()
	}
	for _, a := range reserved[1:] {
		a.Fail()
		a.Release() // after Fail: no effect
	}
	if a := l.Begin("198.18.0.7"); a != nil {
		t.Fatal("judged a sixth login after 5 failures")
	}
	if a := l.Begin("198.18.0.8"); a == nil {
		t.Fatal("another client was refused")
	}
}

func TestLimiterKeepsReservationsAtTheCap(t *testing.T) {
	l := NewLimiter(5, time.Minute, newFakeClock().Now)
	held := l.Begin("held")
	for i := range MaxLimiterClients + 10 {
		fail(l, "c"+strconv.Itoa(i))
	}
	if _, ok := l.clients["held"]; !ok {
		t.Fatal("a client with a login in flight was dropped at the cap")
	}
	held.Fail()
	if n := len(l.clients["held"].Value.(*clientFailures).times); n != 1 {
		t.Fatalf("the failure was not recorded: %d", n)
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ ip, want string }{
		{"198.18.0.1", "198.18.0.1"},
		{"::ffff:198.18.0.1", "198.18.0.1"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		if got := ClientKey(tc.ip); got != tc.want {
			t.Errorf("ClientKey(%q) = %q, want %q", tc.ip, got, tc.want)
		}
	}
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
			for i := range 200 {
				if a := l.Begin(c); a != nil {
					if i%2 == 0 {
						a.Fail()
					} else {
						a.Release()
					}
				}
				l.Blocked(c)
			}
		}()
	}
	wg.Wait()
}
