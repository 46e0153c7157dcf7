// Package tracker decides whether a WAN is online from its probe rounds and
// carrier events. It is pure: time comes in with each event, so its timing is
// tested without sleeping. There is one Tracker per WAN, owned by the
// daemon's state goroutine; it is not safe for concurrent use.
//
// # Rules
//
// A round is one probe per track target. It is good when at least
// Reliability results are OK (with max_latency, answered within it);
// Reliability above the number of results means all must answer. A round
// with no results (no targets) is ignored.
//
//   - Online: a failed round moves to Disconnecting with fails=1; the WAN
//     still carries traffic. With down 1 it goes straight to Offline.
//   - Disconnecting: a failed round adds one to fails, Offline at
//     fails >= down. A good round takes one away, Online again at fails 0.
//     A good round does not reset the count: mwan3 resets it fully, so a
//     link that loses every other round never fails over. Counting down one
//     step at a time forgives occasional lost rounds yet lets a line that
//     fails rounds at random half of the time drift to down failures and go
//     offline. (A line failing strictly every other round stays up; max_loss
//     is the tool for such lines.)
//   - Offline: a good round moves to Connecting with goods=1 (Online at once
//     with up 1). Connecting: each good round adds one, Online at
//     goods >= up; a failed round sends it back to Offline with goods 0.
//     Going down tolerates noise, coming back needs proof: up good rounds in
//     a row.
//   - Loss: the probes of the last 20 rounds (sent against OK) give the loss;
//     a slow answer counts as answered here (loss is packet loss, max_latency
//     judges rounds).
//     With max_loss > 0, once the window holds at least 10 rounds, a usable
//     WAN whose loss is above max_loss goes Offline. While offline for loss it
//     may only start Connecting once loss <= max_loss/2, so a line hovering
//     at the threshold goes down once instead of flapping.
//   - Carrier lost: Offline at once from any enabled state, counters and the
//     loss window reset; rounds are ignored until the carrier is back. Carrier
//     back: Connecting, so probes confirm the link.
//   - always_online: rounds are ignored and the carrier alone decides
//     (Online or Offline).
//   - Disabled ignores everything except SetEnabled (the carrier is still
//     noted, so enabling a WAN without carrier makes it Offline).
//
// Worst-case detection of a silently dead link: the daemon starts a round
// every interval and gives each probe timeout, so the first round to fail
// starts within one interval of the fault and the down-th failed round ends
// at most down×interval + timeout after it: 4 s with the defaults (interval
// 1 s, timeout 1 s, down 3). A lost carrier takes the WAN offline with no
// delay at all.
package tracker

import (
	"fmt"
	"slices"
	"time"

	"github.com/wanlb/wanlb/internal/config"
)

// State is a WAN's detection state, as shown by `wanlb status`.
type State string

// The states.
const (
	Online        State = "online"
	Offline       State = "offline"
	Connecting    State = "connecting"    // good rounds are accumulating; not carrying traffic yet
	Disconnecting State = "disconnecting" // failed rounds are accumulating; still carrying traffic
	Disabled      State = "disabled"
)

// lossWindow rounds make up the loss figure; minLossRounds must be in it
// before loss may take a WAN down, so a few unlucky first rounds cannot.
const (
	lossWindow    = 20
	minLossRounds = 10
)

// Settings are the thresholds of one WAN's detection.
type Settings struct {
	Reliability  int           // targets that must answer for a round to be good
	Down, Up     int           // failed rounds to go offline / good rounds to come back
	MaxLatency   time.Duration // >0: an answer slower than this counts as not answered
	MaxLoss      int           // percent; >0: loss over the window above this takes the WAN offline
	AlwaysOnline bool          // detection always_online: carrier alone decides
}

// SettingsFrom takes a WAN section's detection options.
func SettingsFrom(w *config.WAN) Settings {
	return Settings{
		Reliability:  w.Reliability,
		Down:         w.Down,
		Up:           w.Up,
		MaxLatency:   w.MaxLatency,
		MaxLoss:      w.MaxLoss,
		AlwaysOnline: w.Detection == config.DetectAlwaysOnline,
	}
}

// norm raises counts below 1 to 1, so a zero Settings still behaves sanely.
func (s Settings) norm() Settings {
	s.Reliability, s.Down, s.Up = max(s.Reliability, 1), max(s.Down, 1), max(s.Up, 1)
	return s
}

// Result is one probe of one target.
type Result struct {
	OK  bool
	RTT time.Duration
}

// Round is one round of probes: one per target. At is when it ended.
type Round struct {
	At      time.Time
	Results []Result
}

// Change is a state transition; Reason is for the log.
type Change struct {
	From, To State
	At       time.Time
	Reason   string
}

// Tracker is the detection state machine of one WAN.
type Tracker struct {
	s           Settings
	state       State
	since       time.Time
	fails       int
	goods       int
	noCarrier   bool
	lossOffline bool // offline because of loss: recovery waits for loss <= MaxLoss/2
	rtt         time.Duration
	win         [lossWindow]struct{ sent, ok int }
	winNext     int
	winLen      int
	last        time.Time // the latest time given in, to date a Reconfigure change
	cause       Cause     // why the WAN last went offline
}

// New starts a tracker in initial: Online (optimistic, after a daemon
// restart), Connecting (cold start) or Disabled; Offline is kept too, and
// Disconnecting starts as Online. With AlwaysOnline a Connecting start is
// Online, since no probe would ever confirm it.
func New(s Settings, initial State, now time.Time) *Tracker {
	t := &Tracker{s: s.norm(), state: initial, since: now, last: now}
	switch initial {
	case Online, Offline, Disabled:
	case Disconnecting:
		t.state = Online
	default:
		t.state = Connecting
	}
	if t.s.AlwaysOnline && t.state != Disabled && t.state != Offline {
		t.state = Online
	}
	return t
}

// to moves to state st and reports the change, if it is one.
func (t *Tracker) to(st State, at time.Time, reason string) (Change, bool) {
	if st == t.state {
		return Change{}, false
	}
	c := Change{From: t.state, To: st, At: at, Reason: reason}
	t.state, t.since = st, at
	return c, true
}

// reset forgets the counters and the loss window: after a carrier loss or a
// disable the link is a new one.
func (t *Tracker) reset() {
	t.fails, t.goods, t.rtt, t.winLen, t.winNext, t.lossOffline = 0, 0, 0, 0, 0, false
}

// Round feeds one round of probes and returns the transition it caused.
func (t *Tracker) Round(r Round) (Change, bool) {
	t.last = r.At
	if t.state == Disabled || t.noCarrier || t.s.AlwaysOnline || len(r.Results) == 0 {
		return Change{}, false
	}
	ok, good, rtts := 0, 0, make([]time.Duration, 0, len(r.Results))
	for _, res := range r.Results {
		if !res.OK {
			continue
		}
		ok++
		rtts = append(rtts, res.RTT)
		if t.s.MaxLatency <= 0 || res.RTT <= t.s.MaxLatency {
			good++
		}
	}
	t.rtt = median(rtts)
	t.win[t.winNext] = struct{ sent, ok int }{len(r.Results), ok}
	t.winNext, t.winLen = (t.winNext+1)%lossWindow, min(t.winLen+1, lossWindow)

	loss := t.Loss()
	if t.s.MaxLoss > 0 && t.Usable() && t.winLen >= minLossRounds && loss > float64(t.s.MaxLoss) {
		t.fails, t.goods, t.lossOffline, t.cause = 0, 0, true, CauseProbes
		return t.to(Offline, r.At, fmt.Sprintf("loss %.0f%% over %d rounds > max_loss %d%%", loss, t.winLen, t.s.MaxLoss))
	}

	if good >= min(t.s.Reliability, len(r.Results)) {
		return t.good(r.At, loss)
	}
	return t.failed(r.At)
}

func (t *Tracker) good(at time.Time, loss float64) (Change, bool) {
	switch t.state {
	case Online:
		t.fails = 0
	case Disconnecting:
		// Forgive one failure, not all: see the package doc.
		if t.fails--; t.fails <= 0 {
			t.fails = 0
			return t.to(Online, at, "failed rounds forgiven")
		}
	case Offline, Connecting:
		if t.state == Offline && t.lossOffline && t.s.MaxLoss > 0 && loss > float64(t.s.MaxLoss)/2 {
			return Change{}, false // hysteresis: a line at the threshold must not flap
		}
		t.goods++
		if t.goods >= t.s.Up {
			t.goods, t.lossOffline = 0, false
			return t.to(Online, at, rounds(t.s.Up, "good"))
		}
		return t.to(Connecting, at, rounds(t.goods, "good"))
	}
	return Change{}, false
}

func (t *Tracker) failed(at time.Time) (Change, bool) {
	switch t.state {
	case Online, Disconnecting:
		t.fails++
		if t.fails >= t.s.Down {
			t.fails, t.cause = 0, CauseProbes
			return t.to(Offline, at, rounds(t.s.Down, "failed"))
		}
		return t.to(Disconnecting, at, rounds(t.fails, "failed"))
	case Connecting:
		t.goods = 0
		if t.cause == "" {
			t.cause = CauseProbes
		}
		return t.to(Offline, at, "failed round while connecting")
	}
	t.goods = 0
	return Change{}, false
}

// Carrier reports the link's carrier. Lost: Offline at once from any enabled
// state. Back: Connecting until probes confirm, or Online with AlwaysOnline.
func (t *Tracker) Carrier(up bool, at time.Time) (Change, bool) {
	t.last = at
	if up == !t.noCarrier {
		return Change{}, false
	}
	t.noCarrier = !up
	if t.state == Disabled {
		return Change{}, false
	}
	t.reset()
	if !up {
		t.cause = CauseCarrier
		return t.to(Offline, at, "carrier lost")
	}
	if t.s.AlwaysOnline {
		return t.to(Online, at, "carrier back")
	}
	return t.to(Connecting, at, "carrier back")
}

// SetEnabled disables the WAN, or enables it as Connecting (Offline without
// carrier, Online with AlwaysOnline).
func (t *Tracker) SetEnabled(on bool, at time.Time) (Change, bool) {
	t.last = at
	if on == (t.state != Disabled) {
		return Change{}, false
	}
	t.reset()
	switch {
	case !on:
		return t.to(Disabled, at, "disabled")
	case t.noCarrier:
		t.cause = CauseCarrier
		return t.to(Offline, at, "enabled without carrier")
	case t.s.AlwaysOnline:
		return t.to(Online, at, "enabled")
	}
	return t.to(Connecting, at, "enabled")
}

// Reconfigure applies new thresholds, keeping the state, counters and loss
// window; they take effect from the next round. Only turning always_online on
// changes the state at once (to Online, if the carrier is up), since no round
// would move it any more; that change is dated by the last event the tracker
// saw, as Reconfigure takes no time. Callers may ignore the result.
func (t *Tracker) Reconfigure(s Settings) (Change, bool) {
	t.s = s.norm()
	if t.s.AlwaysOnline && t.state != Disabled && !t.noCarrier {
		t.fails, t.goods, t.lossOffline = 0, 0, false
		return t.to(Online, t.last, "always_online")
	}
	return Change{}, false
}

// State is the current state.
func (t *Tracker) State() State { return t.state }

// Usable reports whether the WAN carries traffic: Online, or Disconnecting
// while failures accumulate.
func (t *Tracker) Usable() bool { return t.state == Online || t.state == Disconnecting }

// Since is when the current state began.
func (t *Tracker) Since() time.Time { return t.since }

// RTT is the median RTT of the answered probes of the last round, 0 if none.
func (t *Tracker) RTT() time.Duration { return t.rtt }

// Loss is the percentage of probes lost over the window of recent rounds.
func (t *Tracker) Loss() float64 {
	sent, ok := 0, 0
	for _, w := range t.win[:t.winLen] {
		sent, ok = sent+w.sent, ok+w.ok
	}
	if sent == 0 {
		return 0
	}
	return 100 * float64(sent-ok) / float64(sent)
}

// Counts are the failed rounds counted towards Offline and the good rounds
// counted towards Online.
func (t *Tracker) Counts() (fails, goods int) { return t.fails, t.goods }

func rounds(n int, kind string) string {
	if n == 1 {
		return "1 " + kind + " round"
	}
	return fmt.Sprintf("%d %s rounds", n, kind)
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	if n := len(d); n%2 == 0 {
		return (d[n/2-1] + d[n/2]) / 2
	}
	return d[len(d)/2]
}
