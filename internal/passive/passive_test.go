package passive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/probe"
)

// step is one sample: the counters' growth since the previous one, and
// probe packets announced just before it.
type step struct {
	rx, tx, probes uint64
	resolve        string // "cleared" or "failed": the burst's verdict after this sample
}

func TestWatch(t *testing.T) {
	const period = 100 * time.Millisecond // Window 0.5 s / Steps
	quiet := func(n int) []step { return make([]step, n) }
	sending := func(n int) []step {
		s := make([]step, n)
		for i := range s {
			s[i].tx = 3
		}
		return s
	}
	cat := func(parts ...[]step) []step {
		var out []step
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name  string
		steps []step
		want  []int // samples (1-based) that raise a suspicion
	}{
		{"idle: nothing sent, nothing suspected", quiet(20), nil},
		{"answered traffic", func() []step {
			s := sending(20)
			for i := range s {
				s[i].rx = 2
			}
			return s
		}(), nil},
		// The first sample is the baseline; tx seen at sample 2 dates from
		// sample 1, so Window (5 steps) has passed at sample 6.
		{"sending, nothing back: suspect after the window", sending(8), []int{6}},
		{"one packet, then silence: still suspect", cat(quiet(1), []step{{tx: 1}}, quiet(6)), []int{6}},
		{"a reply inside the window clears", cat(sending(4), []step{{rx: 1, tx: 3}}, sending(4)), nil},
		{"a reply restarts the window", cat(sending(4), []step{{rx: 1}}, sending(6)), []int{10}},
		{"probes alone are not traffic", func() []step {
			s := quiet(30)
			for i := 1; i < 30; i += 10 {
				s[i] = step{tx: 2, probes: 2}
			}
			return s
		}(), nil},
		{"traffic beyond the probes is", cat(quiet(1), []step{{tx: 3, probes: 2}}, quiet(6)), []int{6}},
		{"a pending suspicion is not raised again", sending(15), []int{6}},
		{"cleared: left alone for the cooldown, then suspect again", func() []step {
			s := sending(30)
			s[5].resolve = "cleared" // at sample 6; cooldown 1 s = 10 samples
			return s
		}(), []int{6, 16}},
		{"failed: watched afresh", func() []step {
			s := sending(14)
			s[5].resolve = "failed"
			return s
		}(), []int{6, 11}},
		{"the last ACK with its answer starts nothing", cat(quiet(1), []step{{rx: 2, tx: 1}}, quiet(10)), nil},
		{"a packet right after an answer does", cat(quiet(1), []step{{rx: 2, tx: 1}, {tx: 1}}, quiet(6)), []int{7}},
		{"counter reset is a new baseline", cat(sending(3), []step{{tx: 1 << 63}}, sending(3)), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := Watch{Window: 500 * time.Millisecond, Cooldown: time.Second}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var c Counters
			var got []int
			for i, s := range tc.steps {
				now = now.Add(period)
				if s.probes > 0 {
					w.Probed(s.probes, now.Add(-period/2))
				}
				if s.tx == 1<<63 {
					c = Counters{} // the device was re-created
				} else {
					c.Rx, c.Tx = c.Rx+s.rx, c.Tx+s.tx
				}
				if _, ok := w.Sample(c, now); ok {
					got = append(got, i+1)
				}
				switch s.resolve {
				case "cleared":
					w.Resolve(true, now)
				case "failed":
					w.Resolve(false, now)
				}
			}
			if !equal(got, tc.want) {
				t.Errorf("suspicions at samples %v, want %v", got, tc.want)
			}
		})
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSuspicionCountsWhatWasSent(t *testing.T) {
	w := Watch{Window: 300 * time.Millisecond}
	now := time.Unix(1000, 0)
	w.Sample(Counters{Rx: 5, Tx: 5}, now)
	var s Suspicion
	for i := 1; i <= 4; i++ {
		var ok bool
		if s, ok = w.Sample(Counters{Rx: 5, Tx: 5 + uint64(2*i)}, now.Add(time.Duration(i)*100*time.Millisecond)); ok {
			break
		}
	}
	if s.Sent != 6 || !s.Since.Equal(now) {
		t.Errorf("suspicion %+v, want 6 packets since %v", s, now)
	}
}

func TestParseNetDev(t *testing.T) {
	text := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1234      12    0    0    0     0          0         0     1234      12    0    0    0     0       0          0
  wan1: 987654   4321    0    0    0     0          0         0   123456    765    0    0    0     0       0          0
`
	got, err := ParseNetDev([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got["wan1"] != (Counters{Rx: 4321, Tx: 765}) || got["lo"] != (Counters{Rx: 12, Tx: 12}) || len(got) != 2 {
		t.Errorf("parsed %+v", got)
	}
	for _, bad := range []string{"h\nh\nwan1 1 2 3\n", "h\nh\nwan1: 1 x 3 4 5 6 7 8 9 10\n"} {
		if _, err := ParseNetDev([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestProcNetDevReadsThisNamespace(t *testing.T) {
	p := &ProcNetDev{}
	first, err := p.Read()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := first["lo"]; !ok {
		t.Errorf("no lo in %v", first)
	}
	// Each read starts the file afresh: counters only grow.
	for i := 0; i < 3; i++ {
		again, err := p.Read()
		if err != nil || len(again) != len(first) || again["lo"].Rx < first["lo"].Rx {
			t.Errorf("read %d: %v %v, first %v", i, again, err, first)
		}
	}
	if _, err := (&ProcNetDev{Path: "/nonexistent"}).Read(); err == nil {
		t.Error("reading a missing file: no error")
	}
}

// A file larger than the buffer is read whole.
func TestProcNetDevLargeFile(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("h\nh\n")
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "dev%d: 1 %d 0 0 0 0 0 0 1 %d 0 0 0 0 0 0\n", i, i, 2*i)
	}
	path := filepath.Join(t.TempDir(), "dev")
	os.WriteFile(path, b.Bytes(), 0o644)
	c, err := (&ProcNetDev{Path: path}).Read()
	if err != nil || len(c) != 400 || c["dev399"] != (Counters{Rx: 399, Tx: 798}) {
		t.Errorf("%d devices, dev399 %+v, %v", len(c), c["dev399"], err)
	}
}

// The watcher samples coarsely until a WAN sends unanswered, then
// finely, and raises the suspicion within a fine step of the window.
func TestWatcherSuspects(t *testing.T) {
	src := &stepSource{}
	out := make(chan Event, 4)
	w := New(out, src, nil)
	w.Restart(t.Context(), []Spec{{WAN: "wan1", Device: "wan1", Window: 200 * time.Millisecond, Cooldown: time.Second, Armed: true}})
	defer w.Stop()
	time.Sleep(300 * time.Millisecond)
	if n := src.reads.Load(); n > 4 {
		t.Errorf("%d reads in 0.3 s of quiet: want coarse sampling (every 0.1 s)", n)
	}
	start := time.Now()
	src.sending.Store(true)
	select {
	case ev := <-out:
		if ev.WAN != "wan1" || ev.Gen != w.Gen() || ev.Sent == 0 {
			t.Errorf("event %+v", ev)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("suspicion after %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no suspicion")
	}
	w.Arm("wan1", false)
	select {
	case ev := <-out:
		t.Errorf("disarmed WAN suspected: %+v", ev)
	case <-time.After(400 * time.Millisecond):
	}
}

// stepSource: wan1 sends 3 packets per read while sending is set.
type stepSource struct {
	reads   atomic.Int32
	sending atomic.Bool
	tx      atomic.Uint64
}

func (s *stepSource) Read() (map[string]Counters, error) {
	s.reads.Add(1)
	if s.sending.Load() {
		s.tx.Add(3)
	}
	return map[string]Counters{"wan1": {Rx: 7, Tx: s.tx.Load()}}, nil
}

func TestBurst(t *testing.T) {
	targets := []config.Target{{Raw: "a"}, {Raw: "b"}, {Raw: "c"}}
	dead := func(ctx context.Context, _ probe.Via, _ config.Target) probe.Result {
		<-ctx.Done()
		return probe.Result{Err: errors.New("timeout")}
	}
	var bSent atomic.Int32
	oneLoss := func(ctx context.Context, _ probe.Via, tg config.Target) probe.Result {
		if tg.Raw != "b" {
			return probe.Result{Err: errors.New("unreachable")}
		}
		if bSent.Add(1) < Tries { // all but b's last probe are lost
			<-ctx.Done()
			return probe.Result{Err: errors.New("timeout")}
		}
		return probe.Result{OK: true}
	}
	start := time.Now()
	if Burst(context.Background(), dead, probe.Via{}, targets, 200*time.Millisecond) {
		t.Error("dead targets: burst answered")
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("dead burst took %s, want its timeout", d)
	}
	if !Burst(context.Background(), oneLoss, probe.Via{}, targets, 2*time.Second) {
		t.Error("one target answering its last probe: burst failed")
	}

	// A slow line: answers take 30% of the burst, and only the last try
	// of one target gets one. It is sent early enough to come back.
	var cSent atomic.Int32
	slowLast := func(ctx context.Context, _ probe.Via, tg config.Target) probe.Result {
		if tg.Raw != "c" || cSent.Add(1) < Tries {
			<-ctx.Done()
			return probe.Result{Err: errors.New("timeout")}
		}
		select {
		case <-time.After(600 * time.Millisecond):
			return probe.Result{OK: true}
		case <-ctx.Done():
			return probe.Result{Err: errors.New("timeout")}
		}
	}
	if !Burst(context.Background(), slowLast, probe.Via{}, targets, 2*time.Second) {
		t.Error("a slow answer to the last try: burst failed")
	}
}
