package auth

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

const (
	// DefaultMaxFailures and DefaultFailureWindow are the web API
	// contract: 429 once a client has failed 5 times within a minute.
	DefaultMaxFailures   = 5
	DefaultFailureWindow = time.Minute
	// MaxLimiterClients bounds the Limiter's memory when many clients
	// fail (one IPv6 host may hold a whole /48 of /64s).
	MaxLimiterClients = 4096
)

// Limiter bounds how many logins of one client are judged: a client with
// max failures within window, counting the logins still being judged, is
// refused until the oldest failure leaves the window. It is safe for
// concurrent use.
//
// The slot is reserved BEFORE a login is judged (Begin), so guesses sent
// at the same instant cannot all pass a "has it failed 5 times yet?"
// check that none of them has recorded yet: at most max guesses per
// client per window are ever judged, however they are timed.
//
// A successful login does not clear the client's failures: otherwise an
// attacker holding any account (a read-only one, say) could log into it
// between guesses at another and guess without limit. Failures simply
// age out of the window.
//
// Each client keeps at most max failure times (a sliding log), and clients
// sit in a list ordered by their latest activity, so forgetting stale
// clients and dropping the oldest at the cap are cheap.
type Limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	clients map[string]*list.Element // value: *clientFailures
	order   *list.List               // front: least recent activity
}

type clientFailures struct {
	client  string
	times   []time.Time // oldest first, at most max, all within window of the last
	pending int         // logins reserved and not yet judged
}

// Attempt is one reserved login. Exactly one of Fail or Release takes
// effect; later calls do nothing, so `defer a.Release()` is safe after Fail.
type Attempt struct {
	l      *Limiter
	client string
	done   bool // guarded by l.mu
}

// NewLimiter returns a Limiter allowing maxFailures per client within
// window. Zero or negative values mean DefaultMaxFailures and
// DefaultFailureWindow; now is the clock (nil means time.Now).
func NewLimiter(maxFailures int, window time.Duration, now func() time.Time) *Limiter {
	if maxFailures <= 0 {
		maxFailures = DefaultMaxFailures
	}
	if window <= 0 {
		window = DefaultFailureWindow
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		max:     maxFailures,
		window:  window,
		now:     now,
		clients: make(map[string]*list.Element),
		order:   list.New(),
	}
}

// ClientKey is the Limiter's name for a client address: the address
// itself for IPv4 (also written as ::ffff:a.b.c.d), the /64 for IPv6,
// since one host usually holds a whole /64 and can pick a new address in
// it for every guess. Anything else is used as it is.
func ClientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// Begin reserves a judgment for client, or returns nil when client has
// max failures within the window counting the logins already reserved:
// answer 429 without checking the password. The caller must end the
// Attempt with Fail or Release.
func (l *Limiter) Begin(client string) *Attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.forgetStale(now)
	e, ok := l.clients[client]
	if !ok {
		if l.order.Len() >= MaxLimiterClients && !l.evictOne() {
			// MaxLimiterClients logins in flight at once: refuse rather
			// than forget a client's reservations.
			return nil
		}
		e = l.order.PushBack(&clientFailures{client: client})
		l.clients[client] = e
	}
	cf := e.Value.(*clientFailures)
	cf.times = l.recent(cf.times, now)
	if len(cf.times)+cf.pending >= l.max {
		return nil
	}
	cf.pending++
	l.order.MoveToBack(e)
	return &Attempt{l: l, client: client}
}

// Blocked reports whether client's next Begin would be refused.
func (l *Limiter) Blocked(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.forgetStale(now)
	e, ok := l.clients[client]
	if !ok {
		return false
	}
	cf := e.Value.(*clientFailures)
	cf.times = l.recent(cf.times, now)
	return len(cf.times)+cf.pending >= l.max
}

// Fail turns the reservation into a failure, timed now: the window runs
// from when the answer was known.
func (a *Attempt) Fail() { a.end(true) }

// Release gives the reservation back without counting a failure: the
// login succeeded, or no judgment was made (bad request, rpcd did not
// answer), so the client learned nothing about the password.
func (a *Attempt) Release() { a.end(false) }

func (a *Attempt) end(failed bool) {
	l := a.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.done {
		return
	}
	a.done = true
	e, ok := l.clients[a.client]
	if !ok {
		return // cannot happen: clients with reservations are never dropped
	}
	cf := e.Value.(*clientFailures)
	cf.pending--
	if !failed {
		return
	}
	now := l.now()
	cf.times = append(l.recent(cf.times, now), now)
	if len(cf.times) > l.max {
		// Only the latest max failures decide when the block ends.
		cf.times = append(cf.times[:0], cf.times[len(cf.times)-l.max:]...)
	}
	l.order.MoveToBack(e)
}

// recent returns the failure times still inside the window at now.
func (l *Limiter) recent(times []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(times) && now.Sub(times[i]) >= l.window {
		i++
	}
	return times[i:]
}

// stale reports whether a client may be forgotten: nothing reserved and
// no failure within the window.
func (l *Limiter) stale(cf *clientFailures, now time.Time) bool {
	return cf.pending == 0 && (len(cf.times) == 0 || now.Sub(cf.times[len(cf.times)-1]) >= l.window)
}

// forgetStale drops stale clients from the front of the list, stopping at
// the first that is not: the list is ordered by latest activity, so the
// rest are (nearly all) recent. Callers hold l.mu.
func (l *Limiter) forgetStale(now time.Time) {
	for e := l.order.Front(); e != nil; e = l.order.Front() {
		if !l.stale(e.Value.(*clientFailures), now) {
			return
		}
		l.remove(e)
	}
}

// evictOne drops the least recently active client that has no login in
// flight, reporting whether there was one. Callers hold l.mu.
func (l *Limiter) evictOne() bool {
	for e := l.order.Front(); e != nil; e = e.Next() {
		if e.Value.(*clientFailures).pending == 0 {
			l.remove(e)
			return true
		}
	}
	return false
}

// remove forgets one client. Callers hold l.mu.
func (l *Limiter) remove(e *list.Element) {
	cf := l.order.Remove(e).(*clientFailures)
	delete(l.clients, cf.client)
}
