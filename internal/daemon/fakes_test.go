package daemon

import (
	"context"
	"errors"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/linkmon"
	"github.com/wanlb/wanlb/internal/netifd"
	"github.com/wanlb/wanlb/internal/probe"
)

// Fakes of the daemon's system parts. Each is safe for the state
// goroutine and the test's goroutine at once (the loop tests run under
// -race).

// fakeLinks is the devices' carrier: every device exists with carrier
// unless set otherwise; set also sends the change as a link event.
type fakeLinks struct {
	mu     sync.Mutex
	down   map[string]bool
	events chan linkmon.Link
}

func newFakeLinks() *fakeLinks {
	return &fakeLinks{down: map[string]bool{}, events: make(chan linkmon.Link, 16)}
}

func (f *fakeLinks) Get(dev string) linkmon.Link {
	f.mu.Lock()
	defer f.mu.Unlock()
	return linkmon.Link{Device: dev, Exists: true, Carrier: !f.down[dev]}
}

func (f *fakeLinks) Watch(ctx context.Context, out chan<- linkmon.Link) {
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-f.events:
			select {
			case out <- l:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (f *fakeLinks) set(dev string, carrier bool) {
	f.mu.Lock()
	f.down[dev] = !carrier
	f.mu.Unlock()
	f.events <- linkmon.Link{Device: dev, Exists: true, Carrier: carrier}
}

// fakeNetifd answers netifd lookups from a table the test changes.
type fakeNetifd struct {
	mu     sync.Mutex
	ifaces map[string]netifd.Interface
	calls  int
}

func (f *fakeNetifd) Status(_ context.Context, name string) (netifd.Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	ifc, ok := f.ifaces[name]
	if !ok {
		return netifd.Interface{}, errors.New("not found")
	}
	return ifc, nil
}

func (f *fakeNetifd) set(name, dev, gw string, up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ifaces == nil {
		f.ifaces = map[string]netifd.Interface{}
	}
	f.ifaces[name] = netifd.Interface{Name: name, Up: up, Device: dev, Gateway: netip.MustParseAddr(gw)}
}

// fakeProber answers probes: a device in dead gets no answer until a
// little after the round's deadline, every other one answers in 5 ms.
type fakeProber struct {
	mu   sync.Mutex
	dead map[string]bool
	// hang: a dead device's probes wait for their deadline instead of
	// failing at once. At once is the default: a failed round that ends at
	// its deadline ends together with the next round, and which of the two
	// the loop sees first would be a coin toss.
	hang bool
	// rtt is what live probes report (5 ms when zero).
	rtt    time.Duration
	sent   map[string]int
	active int // probes not returned yet
}

func (f *fakeProber) Probe(ctx context.Context, via probe.Via, _ config.Target) probe.Result {
	f.mu.Lock()
	if f.sent == nil {
		f.sent = map[string]int{}
	}
	f.sent[via.Device]++
	dead, hang, rtt := f.dead[via.Device], f.hang, f.rtt
	f.active++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active--
		f.mu.Unlock()
	}()
	if dead && hang {
		<-ctx.Done()
		// A real probe may overrun its deadline a little (a read
		// returning late on a busy machine).
		time.Sleep(50 * time.Millisecond)
		return probe.Result{Err: errors.New("timeout")}
	}
	if dead {
		return probe.Result{Err: errors.New("unreachable")}
	}
	if rtt == 0 {
		rtt = 5 * time.Millisecond
	}
	return probe.Result{OK: true, RTT: rtt}
}

func (f *fakeProber) running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active
}

func (f *fakeProber) kill(dev string, dead bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead == nil {
		f.dead = map[string]bool{}
	}
	f.dead[dev] = dead
}

// fakeClock is time the test moves: Advance fires every ticker and timer
// that comes due, in order, as the real ones would (a ticker's channel
// holds one tick; more are dropped).
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clock  *fakeClock
	c      chan time.Time
	at     time.Time
	period time.Duration // 0: a timer
	off    bool          // stopped, or a timer that fired
	stop   bool          // stopped: a tick it holds is never read
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d, period time.Duration) *fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, c: make(chan time.Time, 1), at: c.now.Add(d), period: period}
	c.timers = append(c.timers, t)
	return t
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker { return fakeTicker{c.add(d, d)} }
func (c *fakeClock) NewTimer(d time.Duration) Timer   { return c.add(d, 0) }

func (t *fakeTimer) C() <-chan time.Time { return t.c }

type fakeTicker struct{ *fakeTimer }

func (t fakeTicker) Stop() { t.fakeTimer.Stop() }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.off
	t.off, t.stop = true, true
	return was
}

// Advance moves the clock by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.now.Add(d)
	for {
		var due []*fakeTimer
		for _, t := range c.timers {
			if !t.off && !t.at.After(end) {
				due = append(due, t)
			}
		}
		if len(due) == 0 {
			break
		}
		sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
		t := due[0]
		c.now = t.at
		select {
		case t.c <- t.at:
		default:
		}
		if t.period > 0 {
			t.at = t.at.Add(t.period)
		} else {
			t.off = true
		}
	}
	c.now = end
}

// armed is how many timers (not tickers) are running.
func (c *fakeClock) armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.off && t.period == 0 {
			n++
		}
	}
	return n
}

// drained reports whether the daemon has read every tick and timer
// value sent so far.
func (c *fakeClock) drained() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.timers {
		if !t.stop && len(t.c) > 0 {
			return false
		}
	}
	return true
}
