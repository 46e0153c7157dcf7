package daemon

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/passive"
	"github.com/wanlb/wanlb/internal/probe"
	"github.com/wanlb/wanlb/internal/webui"
)

// fakeCounters are the devices' packet counters: every read, a device
// in sending has sent 3 more packets, and one in answered received 2;
// a probe through a device counts one packet sent.
type fakeCounters struct {
	mu       sync.Mutex
	c        map[string]passive.Counters
	sending  map[string]bool
	answered map[string]bool
}

func newFakeCounters() *fakeCounters {
	return &fakeCounters{c: map[string]passive.Counters{"wan1": {}, "wan2": {}}, sending: map[string]bool{}, answered: map[string]bool{}}
}

func (f *fakeCounters) Read() (map[string]passive.Counters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]passive.Counters{}
	for dev, c := range f.c {
		if f.sending[dev] {
			c.Tx += 3
		}
		if f.answered[dev] {
			c.Rx += 2
		}
		f.c[dev], out[dev] = c, c
	}
	return out, nil
}

func (f *fakeCounters) set(dev string, sending, answered bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sending[dev], f.answered[dev] = sending, answered
}

func (f *fakeCounters) probed(dev string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.c[dev]
	c.Tx++
	f.c[dev] = c
}

// passiveWANs probe once an hour: within a test only the passive watch
// can take a WAN offline, unless the test sets its own interval.
func passiveWANs(interval string) string {
	w := func(n string) string {
		return "config wan 'wan" + n + "'\n\toption device 'wan" + n + "'\n\toption gateway '198.18.1" + n + ".1'\n" +
			"\toption detection 'manual'\n\tlist track '198.18.100.1'\n\tlist track 'tcp://198.18.100.1:80'\n" +
			"\toption interval '" + interval + "'\n\toption timeout '2'\n\toption down '3'\n\toption up '1'\n\toption passive_window '0.2'\n\n"
	}
	return w("1") + w("2")
}

func startPassive(t *testing.T, uci string) (*harness, *fakeCounters) {
	fc := newFakeCounters()
	h := startDaemon(t, uci, func(h *harness, k *Kernel) {
		// A burst waits 4 RTTs (at most the 2 s timeout): 2 s here, so
		// that a stalled machine cannot fail a live WAN's burst.
		h.pr.rtt = 500 * time.Millisecond
		k.Counters = fc
		k.Probe = func(ctx context.Context, via probe.Via, tg config.Target) probe.Result {
			fc.probed(via.Device)
			return h.pr.Probe(ctx, via, tg)
		}
	})
	return h, fc
}

func (h *harness) metricsNow() webui.Metrics {
	h.t.Helper()
	v, err := h.d.ask(h.t.Context(), request{kind: "metrics"})
	if err != nil {
		h.t.Fatal(err)
	}
	return v.(webui.Metrics)
}

// TestLoopPassiveTakesADeadWANOffline: wan1 keeps sending, nothing comes
// back and its probe burst fails: it leaves the plan at once, long before
// its hourly probes could tell, and the status says why.
func TestLoopPassiveTakesADeadWANOffline(t *testing.T) {
	h, fc := startPassive(t, passiveWANs("3600"))
	fc.set("wan2", true, true)
	wan1, _ := h.dp.Last().WAN("wan1")
	mark := h.dp.Last().MarkMask.Value(wan1.Mark)

	h.pr.kill("wan1", true)
	fc.set("wan1", true, false)
	start := time.Now()
	h.eventually("wan1 leaves the plan", func() bool { return !h.usable("wan1") && h.usable("wan2") })
	t.Logf("offline %s after the traffic went unanswered", time.Since(start).Round(time.Millisecond))
	h.eventually("wan1's connections are deleted", func() bool { return slices.Equal(h.ct.Marks(), []uint32{mark}) })
	s := h.sync()
	if w := s.WANs[0]; w.State != "offline" || w.OfflineReason != "traffic" || w.Changes[len(w.Changes)-1].To != "offline" {
		t.Errorf("status of wan1: %+v", w)
	}
	if w := s.WANs[1]; w.State != "online" || w.OfflineReason != "" {
		t.Errorf("status of wan2: %+v", w)
	}
	m := h.metricsNow()
	if m.WANs[0].Offline["traffic"] != 1 || m.WANs[0].Suspicions != 1 || m.WANs[0].Cleared != 0 || m.WANs[1].Suspicions != 0 {
		t.Errorf("metrics: %+v", m.WANs)
	}
}

// TestLoopPassiveSuspicionClearedChangesNothing: wan1's traffic goes
// unanswered (a LAN client dialing dead addresses) but its probe burst is
// answered: it stays online, and is suspected again only after the
// cooldown.
func TestLoopPassiveSuspicionClearedChangesNothing(t *testing.T) {
	h, fc := startPassive(t, passiveWANs("3600"))
	fc.set("wan1", true, false)
	h.eventually("a burst clears wan1", func() bool { return h.metricsNow().WANs[0].Cleared >= 1 })
	time.Sleep(300 * time.Millisecond) // more windows: the cooldown (3600 s interval) holds further bursts off
	m := h.metricsNow()
	if m.WANs[0].Suspicions != 1 || m.WANs[0].Cleared != 1 {
		t.Errorf("within the cooldown: %d suspicions, %d cleared; want 1, 1", m.WANs[0].Suspicions, m.WANs[0].Cleared)
	}
	s := h.sync()
	if w := s.WANs[0]; w.State != "online" || len(w.Changes) != 0 || !h.usable("wan1") {
		t.Errorf("wan1 changed: %+v", w)
	}
}

// TestLoopPassiveIdleWANKeepsProbeTiming: an idle WAN sends only probes;
// when they fail, the probes take it offline after down rounds, as
// without passive detection: its own probes are not traffic.
func TestLoopPassiveIdleWANKeepsProbeTiming(t *testing.T) {
	// A 1 s window: a probe's packets are credited for one window, and a
	// stalled machine must not let that credit lapse before the sample.
	h, _ := startPassive(t, strings.ReplaceAll(passiveWANs("0.2"), "option passive_window '0.2'", "option passive_window '1'"))
	h.pr.kill("wan1", true)
	h.eventually("wan1 goes offline", func() bool { return !h.usable("wan1") })
	s := h.sync()
	if w := s.WANs[0]; w.OfflineReason != "probes" {
		t.Errorf("idle wan1 went offline by %q, want probes: %+v", w.OfflineReason, w.Changes)
	}
	if m := h.metricsNow(); m.WANs[0].Suspicions != 0 {
		t.Errorf("an idle WAN was suspected %d times", m.WANs[0].Suspicions)
	}
}

// TestLoopPassiveOff: with passive '0' nothing is watched.
func TestLoopPassiveOff(t *testing.T) {
	uci := passiveWANs("3600")
	uci = uci[:len(uci)-1] + "\toption passive '0'\n\n" // wan2's section ends the text
	h, fc := startPassive(t, uci)
	h.pr.kill("wan2", true)
	fc.set("wan2", true, false)
	fc.set("wan1", true, false)
	h.eventually("a burst clears wan1", func() bool { return h.metricsNow().WANs[0].Cleared >= 1 })
	if m := h.metricsNow(); m.WANs[1].Suspicions != 0 || !h.usable("wan2") {
		t.Errorf("wan2 with passive off: %d suspicions, usable %v", m.WANs[1].Suspicions, h.usable("wan2"))
	}
}
