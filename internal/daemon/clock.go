package daemon

import "time"

// Clock is the daemon's time: the state goroutine's tickers, the link
// backup schedule's timer and the "now" of every plan and tracker. The
// real one is the system's; unit tests drive a fake to reach schedule
// boundaries and retry, repair and netifd ticks without waiting.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
	NewTimer(d time.Duration) Timer
}

// Ticker is a time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Timer is a time.Timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// systemClock is the real Clock.
type systemClock struct{}

func (systemClock) Now() time.Time                   { return time.Now() }
func (systemClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }
func (systemClock) NewTimer(d time.Duration) Timer   { return realTimer{time.NewTimer(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }
