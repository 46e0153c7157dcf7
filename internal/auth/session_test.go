package auth

import (
	"encoding/base64"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for Store and Limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestStoreCreate(t *testing.T) {
	clock := newFakeClock()
	s := NewStore(time.Hour, clock.Now)
	a := s.Create("root", Full)
	b := s.Create("root", Full)
	for _, sess := range []Session{a, b} {
		for name, tok := range map[string]string{"ID": sess.ID, "CSRF": sess.CSRF} {
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil || len(raw) != 32 {
				t.Fatalf("%s %q: want 32 bytes of base64url, got %d bytes, %v", name, tok, len(raw), err)
			}
		}
		if sess.Username != "root" || !sess.Expires.Equal(clock.Now().Add(time.Hour)) {
			t.Fatalf("Create = %+v", sess)
		}
	}
	if a.ID == b.ID || a.CSRF == b.CSRF || a.ID == a.CSRF {
		t.Fatal("tokens repeat")
	}
	got, ok := s.Get(a.ID)
	if !ok || got != a {
		t.Fatalf("Get = %+v, %v; want %+v", got, ok, a)
	}
}

func TestStoreExpiry(t *testing.T) {
	const timeout = 10 * time.Minute
	for _, tc := range []struct {
		name  string
		steps []time.Duration // clock advances, each followed by a Get
		want  []bool          // result of each Get
	}{
		{"fresh", []time.Duration{0}, []bool{true}},
		{"just before expiry", []time.Duration{timeout - time.Second}, []bool{true}},
		{"at expiry", []time.Duration{timeout}, []bool{false}},
		{"long after", []time.Duration{24 * time.Hour}, []bool{false}},
		{
			// Each Get slides the expiry: 9 minutes apart, the session
			// lives far past its first 10 minutes.
			"sliding",
			[]time.Duration{9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute},
			[]bool{true, true, true, true},
		},
		{
			"idle after use",
			[]time.Duration{9 * time.Minute, timeout},
			[]bool{true, false},
		},
		{
			// Once expired it is gone, even if the clock went back.
			"removed when expired",
			[]time.Duration{timeout, -timeout},
			[]bool{false, false},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			s := NewStore(timeout, clock.Now)
			sess := s.Create("admin", Full)
			for i, step := range tc.steps {
				clock.Advance(step)
				got, ok := s.Get(sess.ID)
				if ok != tc.want[i] {
					t.Fatalf("step %d: Get ok = %v, want %v", i, ok, tc.want[i])
				}
				if ok && !got.Expires.Equal(clock.Now().Add(timeout)) {
					t.Fatalf("step %d: Expires = %v, want now+timeout", i, got.Expires)
				}
			}
		})
	}
}

func TestStoreGetUnknown(t *testing.T) {
	s := NewStore(time.Hour, nil)
	s.Create("root", Full)
	for _, id := range []string{"", "nope", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, ok := s.Get(id); ok {
			t.Fatalf("Get(%q) found a session", id)
		}
	}
}

func TestStoreDelete(t *testing.T) {
	s := NewStore(time.Hour, newFakeClock().Now)
	a, b := s.Create("a", Full), s.Create("b", Full)
	s.Delete(a.ID)
	s.Delete(a.ID)     // twice is fine
	s.Delete("absent") // unknown is fine
	if _, ok := s.Get(a.ID); ok {
		t.Fatal("deleted session still found")
	}
	if _, ok := s.Get(b.ID); !ok {
		t.Fatal("Delete removed another session")
	}
}

func TestStoreEviction(t *testing.T) {
	t.Run("full store drops the least recently used", func(t *testing.T) {
		clock := newFakeClock()
		s := NewStore(time.Hour, clock.Now)
		var all []Session
		for range MaxSessions {
			all = append(all, s.Create("u", Full))
			clock.Advance(time.Second)
		}
		// The oldest session is in use; the second oldest is not.
		if _, ok := s.Get(all[0].ID); !ok {
			t.Fatal("session 0 missing before the store was full")
		}
		extra := s.Create("late", Full)
		if len(s.sessions) != MaxSessions {
			t.Fatalf("%d sessions, want %d", len(s.sessions), MaxSessions)
		}
		for i, want := range map[int]bool{0: true, 1: false, 2: true, MaxSessions - 1: true} {
			if _, ok := s.Get(all[i].ID); ok != want {
				t.Fatalf("session %d present = %v, want %v", i, ok, want)
			}
		}
		if _, ok := s.Get(extra.ID); !ok {
			t.Fatal("new session missing")
		}
	})
	t.Run("oldest created goes first among equals", func(t *testing.T) {
		s := NewStore(time.Hour, newFakeClock().Now) // clock never moves
		var all []Session
		for range MaxSessions + 3 {
			all = append(all, s.Create("u", Full))
		}
		if len(s.sessions) != MaxSessions {
			t.Fatalf("%d sessions, want %d", len(s.sessions), MaxSessions)
		}
		for i, sess := range all {
			if _, ok := s.Get(sess.ID); ok != (i >= 3) {
				t.Fatalf("session %d present = %v", i, ok)
			}
		}
	})
	t.Run("expired sessions go before live ones", func(t *testing.T) {
		clock := newFakeClock()
		s := NewStore(time.Hour, clock.Now)
		var all []Session
		for range MaxSessions {
			all = append(all, s.Create("u", Full))
		}
		clock.Advance(30 * time.Minute)
		for _, sess := range all[:10] {
			s.Get(sess.ID) // these stay alive
		}
		clock.Advance(45 * time.Minute) // the other 54 expired
		s.Create("late", Full)
		if len(s.sessions) != 11 {
			t.Fatalf("%d sessions, want the 10 live ones and the new one", len(s.sessions))
		}
	})
}

func TestStoreSetTimeout(t *testing.T) {
	clock := newFakeClock()
	s := NewStore(time.Hour, clock.Now)
	sess := s.Create("root", Full)

	// Shorter: applies at once.
	s.SetTimeout(5 * time.Minute)
	clock.Advance(5 * time.Minute)
	if _, ok := s.Get(sess.ID); ok {
		t.Fatal("session outlived a shortened timeout")
	}

	// Longer: applies from the next use, and to new sessions.
	sess = s.Create("root", Full)
	s.SetTimeout(2 * time.Hour)
	got, ok := s.Get(sess.ID)
	if !ok || !got.Expires.Equal(clock.Now().Add(2*time.Hour)) {
		t.Fatalf("Get after a longer timeout = %+v, %v", got, ok)
	}
	if n := s.Create("x", Full); !n.Expires.Equal(clock.Now().Add(2 * time.Hour)) {
		t.Fatalf("new session expires %v", n.Expires)
	}

	// Zero means the default.
	s.SetTimeout(0)
	if n := s.Create("y", Full); !n.Expires.Equal(clock.Now().Add(DefaultSessionTimeout)) {
		t.Fatalf("SetTimeout(0): new session expires %v", n.Expires)
	}
}

func TestStoreConcurrent(t *testing.T) {
	// Run with -race: Create, Get and Delete from many goroutines.
	s := NewStore(time.Hour, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				sess := s.Create("u", Full)
				s.Get(sess.ID)
				s.Delete(sess.ID)
			}
		}()
	}
	wg.Wait()
}

func TestCSRFOK(t *testing.T) {
	sess := NewStore(time.Hour, nil).Create("root", Full)
	for _, tc := range []struct {
		name  string
		sess  Session
		token string
		want  bool
	}{
		{"match", sess, sess.CSRF, true},
		{"empty token", sess, "", false},
		{"other token", sess, sess.ID, false},
		{"prefix", sess, sess.CSRF[:len(sess.CSRF)-1], false},
		{"longer", sess, sess.CSRF + "A", false},
		{"zero session, empty token", Session{}, "", false},
		{"zero session, some token", Session{}, "x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CSRFOK(tc.sess, tc.token); got != tc.want {
				t.Fatalf("CSRFOK = %v, want %v", got, tc.want)
			}
		})
	}
}
