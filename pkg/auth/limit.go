package auth

import (
	"container/list"
	"sync"
	"time"
)

const (
	// DefaultMaxFailures and DefaultFailureWindow are the web API
	// contract: 429 once a client has failed 5 times within a minute.
	DefaultMaxFailures   = 5
	DefaultFailureWindow = time.Minute
	// MaxLimiterClients bounds the Limiter's memory when many addresses
	// fail (an IPv6 client can use a new address for every attempt).
	MaxLimiterClients = 4096
)

// Limiter counts failed logins per client address and blocks a client
// that failed max times within window, until the oldest of those failures
// is older than window. It is safe for concurrent use.
//
// Each client keeps at most max failure times (a sliding log), and clients
// sit in a list ordered by their latest failure, so forgetting stale
// clients and dropping the oldest at the cap are cheap.
type Limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	clients map[string]*list.Element // value: *clientFailures
	order   *list.List               // front: least recent failure
}

type clientFailures struct {
	client string
	times  []time.Time // oldest first, at most max, all within window of the last
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

// Blocked reports whether client has failed max times within the window.
// The web server asks before checking a password, so a blocked client's
// guesses are not even tried.
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
	return len(cf.times) >= l.max
}

// Fail records a failed login by client.
func (l *Limiter) Fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.forgetStale(now)
	e, ok := l.clients[client]
	if !ok {
		if l.order.Len() >= MaxLimiterClients {
			l.remove(l.order.Front())
		}
		e = l.order.PushBack(&clientFailures{client: client})
		l.clients[client] = e
	}
	cf := e.Value.(*clientFailures)
	cf.times = append(l.recent(cf.times, now), now)
	if len(cf.times) > l.max {
		// Only the latest max failures decide when the block ends.
		cf.times = append(cf.times[:0], cf.times[len(cf.times)-l.max:]...)
	}
	l.order.MoveToBack(e)
}

// Succeed clears client's failures after a successful login.
func (l *Limiter) Succeed(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.clients[client]; ok {
		l.remove(e)
	}
}

// recent returns the failure times still inside the window at now.
func (l *Limiter) recent(times []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(times) && now.Sub(times[i]) >= l.window {
		i++
	}
	return times[i:]
}

// forgetStale drops clients whose latest failure left the window; the
// list is ordered by latest failure, so it stops at the first recent one.
// Callers hold l.mu.
func (l *Limiter) forgetStale(now time.Time) {
	for e := l.order.Front(); e != nil; e = l.order.Front() {
		cf := e.Value.(*clientFailures)
		if len(cf.times) > 0 && now.Sub(cf.times[len(cf.times)-1]) < l.window {
			return
		}
		l.remove(e)
	}
}

// remove forgets one client. Callers hold l.mu.
func (l *Limiter) remove(e *list.Element) {
	cf := l.order.Remove(e).(*clientFailures)
	delete(l.clients, cf.client)
}
