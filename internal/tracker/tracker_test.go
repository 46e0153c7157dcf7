package tracker

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// defaults are the settings of a WAN section with no detection options.
func defaults() Settings { return Settings{Reliability: 1, Down: 3, Up: 3} }

// round builds a round from one character per target: '+' answered fast,
// 's' answered slowly (500 ms), '-' lost.
func round(at time.Time, spec string) Round {
	r := Round{At: at}
	for _, c := range spec {
		switch c {
		case '+':
			r.Results = append(r.Results, Result{OK: true, RTT: 10 * time.Millisecond})
		case 's':
			r.Results = append(r.Results, Result{OK: true, RTT: 500 * time.Millisecond})
		default:
			r.Results = append(r.Results, Result{})
		}
	}
	return r
}

type step struct {
	ev           string // a round spec ("+--"), "empty", "carrier-", "carrier+", "enable", "disable"
	want         State
	fails, goods int
	reason       string // if set, the step must cause a change with this reason
}

// feed applies one event at time at.
func feed(tr *Tracker, ev string, at time.Time) (Change, bool) {
	switch ev {
	case "empty":
		return tr.Round(Round{At: at})
	case "carrier-", "carrier+":
		return tr.Carrier(ev == "carrier+", at)
	case "enable", "disable":
		return tr.SetEnabled(ev == "enable", at)
	}
	return tr.Round(round(at, ev))
}

func TestTransitions(t *testing.T) {
	down1, up1 := defaults(), defaults()
	down1.Down, up1.Up = 1, 1
	rel2 := defaults()
	rel2.Reliability = 2
	slow := defaults()
	slow.MaxLatency = 100 * time.Millisecond
	always := defaults()
	always.AlwaysOnline = true

	tests := []struct {
		name  string
		s     Settings
		init  State
		steps []step
	}{
		{"online to offline after down failed rounds", defaults(), Online, []step{
			{"+++", Online, 0, 0, ""},
			{"---", Disconnecting, 1, 0, "1 failed round"},
			{"---", Disconnecting, 2, 0, ""},
			{"---", Offline, 0, 0, "3 failed rounds"},
		}},
		{"a good round forgives one failure, not all", defaults(), Online, []step{
			{"---", Disconnecting, 1, 0, ""},
			{"---", Disconnecting, 2, 0, ""},
			{"+++", Disconnecting, 1, 0, ""},
			{"---", Disconnecting, 2, 0, ""},
			{"+--", Disconnecting, 1, 0, ""},
			{"+++", Online, 0, 0, "failed rounds forgiven"},
		}},
		{"intermittent loss still fails over", defaults(), Online, []step{
			{"---", Disconnecting, 1, 0, ""},
			{"---", Disconnecting, 2, 0, ""},
			{"+++", Disconnecting, 1, 0, ""},
			{"---", Disconnecting, 2, 0, ""},
			{"---", Offline, 0, 0, "3 failed rounds"},
		}},
		{"coming back needs up good rounds", defaults(), Offline, []step{
			{"---", Offline, 0, 0, ""},
			{"+--", Connecting, 0, 1, "1 good round"},
			{"++-", Connecting, 0, 2, ""},
			{"+++", Online, 0, 0, "3 good rounds"},
		}},
		{"a failed round while connecting starts over", defaults(), Connecting, []step{
			{"+++", Connecting, 0, 1, ""},
			{"+++", Connecting, 0, 2, ""},
			{"---", Offline, 0, 0, "failed round while connecting"},
			{"+++", Connecting, 0, 1, "1 good round"},
			{"+++", Connecting, 0, 2, ""},
			{"+++", Online, 0, 0, "3 good rounds"},
		}},
		{"down 1 goes straight offline", down1, Online, []step{
			{"---", Offline, 0, 0, "1 failed round"},
		}},
		{"up 1 comes straight back", up1, Offline, []step{
			{"+++", Online, 0, 0, "1 good round"},
		}},
		{"reliability 2 of 3", rel2, Online, []step{
			{"++-", Online, 0, 0, ""},
			{"+--", Disconnecting, 1, 0, ""},
			{"-++", Online, 0, 0, ""},
		}},
		{"reliability above the target count means all", rel2, Online, []step{
			{"+", Online, 0, 0, ""},
			{"-", Disconnecting, 1, 0, ""},
		}},
		{"slow answers count as lost with max_latency", slow, Online, []step{
			{"sss", Disconnecting, 1, 0, ""},
			{"ss+", Online, 0, 0, ""},
		}},
		{"rounds without targets are ignored", defaults(), Disconnecting, []step{
			{"---", Disconnecting, 1, 0, ""}, // Disconnecting starts as Online
			{"empty", Disconnecting, 1, 0, ""},
		}},
		{"carrier lost while online, rounds ignored until back", defaults(), Online, []step{
			{"carrier-", Offline, 0, 0, "carrier lost"},
			{"+++", Offline, 0, 0, ""},
			{"carrier-", Offline, 0, 0, ""},
			{"carrier+", Connecting, 0, 0, "carrier back"},
			{"+++", Connecting, 0, 1, ""},
		}},
		{"carrier lost while disconnecting", defaults(), Online, []step{
			{"---", Disconnecting, 1, 0, ""},
			{"carrier-", Offline, 0, 0, "carrier lost"},
		}},
		{"carrier lost while connecting", defaults(), Connecting, []step{
			{"+++", Connecting, 0, 1, ""},
			{"carrier-", Offline, 0, 0, "carrier lost"},
			{"carrier+", Connecting, 0, 0, "carrier back"},
		}},
		{"carrier lost while offline", defaults(), Offline, []step{
			{"carrier-", Offline, 0, 0, ""},
			{"carrier+", Connecting, 0, 0, "carrier back"},
			{"carrier+", Connecting, 0, 0, ""},
		}},
		{"disabled ignores all but SetEnabled", defaults(), Disabled, []step{
			{"+++", Disabled, 0, 0, ""},
			{"carrier-", Disabled, 0, 0, ""},
			{"disable", Disabled, 0, 0, ""},
			{"enable", Offline, 0, 0, "enabled without carrier"},
			{"carrier+", Connecting, 0, 0, "carrier back"},
			{"disable", Disabled, 0, 0, "disabled"},
			{"carrier+", Disabled, 0, 0, ""},
			{"enable", Connecting, 0, 0, "enabled"},
		}},
		{"disable from online", defaults(), Online, []step{
			{"---", Disconnecting, 1, 0, ""},
			{"disable", Disabled, 0, 0, "disabled"},
			{"enable", Connecting, 0, 0, "enabled"},
		}},
		{"always_online: carrier alone decides", always, Connecting, []step{
			{"---", Online, 0, 0, ""},
			{"---", Online, 0, 0, ""},
			{"carrier-", Offline, 0, 0, "carrier lost"},
			{"+++", Offline, 0, 0, ""},
			{"carrier+", Online, 0, 0, "carrier back"},
			{"disable", Disabled, 0, 0, "disabled"},
			{"enable", Online, 0, 0, "enabled"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(tc.s, tc.init, t0)
			for i, st := range tc.steps {
				at := t0.Add(time.Duration(i+1) * time.Second)
				before := tr.State()
				c, changed := feed(tr, st.ev, at)
				fails, goods := tr.Counts()
				if tr.State() != st.want || fails != st.fails || goods != st.goods {
					t.Fatalf("step %d %q: state %s fails %d goods %d, want %s %d %d",
						i, st.ev, tr.State(), fails, goods, st.want, st.fails, st.goods)
				}
				if changed != (before != st.want) {
					t.Fatalf("step %d %q: changed=%v from %s to %s", i, st.ev, changed, before, st.want)
				}
				if changed && (c.From != before || c.To != st.want || !c.At.Equal(at) || !tr.Since().Equal(at)) {
					t.Fatalf("step %d %q: change %+v, since %v", i, st.ev, c, tr.Since())
				}
				if st.reason != "" && c.Reason != st.reason {
					t.Fatalf("step %d %q: reason %q, want %q", i, st.ev, c.Reason, st.reason)
				}
				if tr.Usable() != (st.want == Online || st.want == Disconnecting) {
					t.Fatalf("step %d: Usable %v in %s", i, tr.Usable(), st.want)
				}
			}
		})
	}
}

func TestReconfigureKeepsState(t *testing.T) {
	tr := New(defaults(), Online, t0)
	tr.Round(round(t0.Add(time.Second), "-"))
	tr.Round(round(t0.Add(2*time.Second), "-"))
	s := defaults()
	s.Down = 5
	if _, changed := tr.Reconfigure(s); changed || tr.State() != Disconnecting || !tr.Since().Equal(t0.Add(time.Second)) {
		t.Fatalf("reconfigure changed state: %s since %v", tr.State(), tr.Since())
	}
	if f, _ := tr.Counts(); f != 2 {
		t.Fatalf("fails %d after reconfigure, want 2", f)
	}
	// The old Down (3) would go offline here; the new one (5) does not.
	tr.Round(round(t0.Add(3*time.Second), "-"))
	if tr.State() != Disconnecting {
		t.Fatalf("state %s, want disconnecting with down 5", tr.State())
	}
	tr.Round(round(t0.Add(4*time.Second), "-"))
	if c, _ := tr.Round(round(t0.Add(5*time.Second), "-")); c.To != Offline || c.Reason != "5 failed rounds" {
		t.Fatalf("change %+v, want offline after 5 failed rounds", c)
	}
	// Turning always_online on leaves nothing to confirm the link: online now.
	s.AlwaysOnline = true
	if c, changed := tr.Reconfigure(s); !changed || c.To != Online || !c.At.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("always_online reconfigure: %+v %v", c, changed)
	}
}

func TestRTTAndLoss(t *testing.T) {
	tr := New(defaults(), Online, t0)
	ms := time.Millisecond
	tr.Round(Round{At: t0, Results: []Result{{true, 30 * ms}, {false, 0}, {true, 10 * ms}, {true, 20 * ms}}})
	if tr.RTT() != 20*ms || tr.Loss() != 25 {
		t.Fatalf("rtt %v loss %v, want 20ms 25%%", tr.RTT(), tr.Loss())
	}
	tr.Round(Round{At: t0, Results: []Result{{true, 30 * ms}, {true, 10 * ms}, {false, 0}, {false, 0}}})
	if tr.RTT() != 20*ms || tr.Loss() != 37.5 {
		t.Fatalf("rtt %v loss %v, want 20ms 37.5%%", tr.RTT(), tr.Loss())
	}
	tr.Round(round(t0, "--"))
	if tr.RTT() != 0 || tr.Loss() != 50 {
		t.Fatalf("rtt %v loss %v, want 0 50%%", tr.RTT(), tr.Loss())
	}
	for range lossWindow {
		tr.Round(round(t0, "++++"))
	}
	if tr.Loss() != 0 {
		t.Fatalf("loss %v after a clean window", tr.Loss())
	}
}

func TestSettingsFrom(t *testing.T) {
	w := &config.WAN{Reliability: 2, Down: 4, Up: 5, MaxLatency: time.Second, MaxLoss: 20, Detection: config.DetectAlwaysOnline}
	want := Settings{Reliability: 2, Down: 4, Up: 5, MaxLatency: time.Second, MaxLoss: 20, AlwaysOnline: true}
	if got := SettingsFrom(w); got != want {
		t.Fatalf("SettingsFrom = %+v, want %+v", got, want)
	}
}

// TestDeadWANDetectionTime: a link that goes silent between rounds is
// offline within Down×interval + timeout, wherever in the interval the fault
// falls.
func TestDeadWANDetectionTime(t *testing.T) {
	const rtt = 20 * time.Millisecond
	for _, c := range []struct {
		interval, timeout time.Duration
		down              int
	}{{time.Second, time.Second, 3}, {500 * time.Millisecond, time.Second, 5}, {2 * time.Second, time.Second, 1}} {
		worst := time.Duration(0)
		for off := time.Duration(0); off < c.interval; off += c.interval / 10 {
			s := defaults()
			s.Down = c.down
			tr := New(s, Online, t0)
			fault := t0.Add(10*c.interval + off + time.Millisecond)
			var offline *Change
			for start := t0; offline == nil && start.Before(fault.Add(time.Minute)); start = start.Add(c.interval) {
				r := round(start.Add(rtt), "++++")
				if !start.Add(rtt).Before(fault) { // the answers would arrive after the fault: lost
					r = round(start.Add(c.timeout), "----")
				}
				if ch, ok := tr.Round(r); ok && ch.To == Offline {
					offline = &ch
				}
			}
			limit := time.Duration(c.down)*c.interval + c.timeout
			if offline == nil || offline.At.Sub(fault) > limit {
				t.Fatalf("%+v fault offset %v: offline %+v, want within %v", c, off, offline, limit)
			}
			worst = max(worst, offline.At.Sub(fault))
		}
		t.Logf("interval %v timeout %v down %d: offline at worst %v after the fault (bound %v)",
			c.interval, c.timeout, c.down, worst, time.Duration(c.down)*c.interval+c.timeout)
	}
}

// lossyRounds runs n rounds in which each of targets probes is lost with
// probability p, and counts the transitions to Offline.
func lossyRounds(s Settings, seed uint64, n, targets int, p float64) int {
	rng := rand.New(rand.NewPCG(seed, 1))
	tr := New(s, Online, t0)
	offline := 0
	for i := range n {
		var spec strings.Builder
		for range targets {
			if rng.Float64() < p {
				spec.WriteByte('-')
			} else {
				spec.WriteByte('+')
			}
		}
		if c, ok := tr.Round(round(t0.Add(time.Duration(i)*time.Second), spec.String())); ok && c.To == Offline {
			offline++
		}
	}
	return offline
}

func TestRandomLossNeverTakesDefaultWANDown(t *testing.T) {
	const rounds = 100000
	if n := lossyRounds(defaults(), 42, rounds, 4, 0.3); n != 0 {
		t.Fatalf("30%% loss with 4 targets: offline %d times in %d rounds, want 0", n, rounds)
	}
	// The contrast, and why auto detection probes several targets: with one
	// target a round fails 30% of the time instead of 0.8%.
	one := lossyRounds(defaults(), 42, rounds, 1, 0.3)
	t.Logf("30%% loss with 1 target: offline %d times in %d rounds (4 targets: 0)", one, rounds)
	if one == 0 {
		t.Fatal("one target under 30% loss never went offline; the contrast is gone")
	}
}

// TestHalfTheRoundsFailing is mwan3's failure mode: there a single good
// round resets the count, so such a line never fails over.
func TestHalfTheRoundsFailing(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 1))
	tr := New(defaults(), Online, t0)
	for i := range 200 {
		spec := "++++"
		if rng.IntN(2) == 0 {
			spec = "----"
		}
		if c, ok := tr.Round(round(t0.Add(time.Duration(i)*time.Second), spec)); ok && c.To == Offline {
			t.Logf("offline after %d rounds: %s", i+1, c.Reason)
			return
		}
	}
	t.Fatal("a line failing half its rounds stayed up for 200 rounds")
}

func TestMaxLoss(t *testing.T) {
	s := defaults()
	s.MaxLoss = 20
	// lost(n) is a round of 5 targets with n lost: every round is good, so
	// only the loss rule can take the WAN down.
	lost := func(n int) string { return strings.Repeat("-", n) + strings.Repeat("+", 5-n) }

	t.Run("needs 10 rounds", func(t *testing.T) {
		tr := New(s, Online, t0)
		for i := range 9 {
			if _, ok := tr.Round(round(t0.Add(time.Duration(i)*time.Second), lost(3))); ok {
				t.Fatalf("round %d: changed with %d rounds in the window", i, i+1)
			}
		}
		c, ok := tr.Round(round(t0.Add(9*time.Second), lost(3)))
		if want := "loss 60% over 10 rounds > max_loss 20%"; !ok || c.To != Offline || c.Reason != want {
			t.Fatalf("10th round: %+v, want offline with %q", c, want)
		}
	})

	t.Run("hysteresis", func(t *testing.T) {
		tr := New(s, Online, t0)
		var changes []Change
		i := 0
		feedLost := func(n int) {
			if c, ok := tr.Round(round(t0.Add(time.Duration(i)*time.Second), lost(n))); ok {
				changes = append(changes, c)
			}
			i++
		}
		// 20% exactly: not above max_loss.
		for range 40 {
			feedLost(1)
		}
		if len(changes) != 0 {
			t.Fatalf("20%% loss with max_loss 20: %+v", changes)
		}
		// Hover at 19-21% for 400 rounds: blocks of 20 rounds with 21 or 19
		// probes lost.
		for b := range 20 {
			for r := range 20 {
				switch {
				case r == 0 && b%2 == 0:
					feedLost(2)
				case r == 0:
					feedLost(0)
				default:
					feedLost(1)
				}
			}
		}
		if len(changes) != 1 || changes[0].To != Offline {
			t.Fatalf("hovering at the threshold: %+v, want exactly one offline", changes)
		}
		// Clean rounds: it may start connecting only once loss <= 10%.
		for range 40 {
			feedLost(0)
			if tr.State() == Connecting && len(changes) == 2 && tr.Loss() > 10 {
				t.Fatalf("connecting at loss %v%%", tr.Loss())
			}
		}
		if len(changes) != 3 || changes[1].To != Connecting || changes[2].To != Online {
			t.Fatalf("recovery: %+v", changes)
		}
		t.Logf("recovered: %s at round %d, %s", changes[1].Reason, changes[1].At.Sub(t0)/time.Second, changes[2].Reason)
	})
}
