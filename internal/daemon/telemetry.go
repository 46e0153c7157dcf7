package daemon

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/webui"
)

// Telemetry: each WAN's recent history (the Status page's charts) and the
// daemon's counters (/metrics), sampled by the state goroutine.

// HistoryInterval and HistoryLength: the Status page's charts cover the
// last 10 minutes in 5 s steps.
const (
	HistoryInterval = 5 * time.Second
	HistoryLength   = 120
)

// Sample is one point of a WAN's history.
type Sample struct {
	T       int64   `json:"t"` // unix seconds
	RTTms   float64 `json:"rtt_ms"`
	LossPct float64 `json:"loss_pct"`
	RxBps   float64 `json:"rx_bps"`
	TxBps   float64 `json:"tx_bps"`
	State   string  `json:"state"`
}

// History is what GET /api/history answers.
type History struct {
	IntervalS int                 `json:"interval_s"`
	WANs      map[string][]Sample `json:"wans"`
}

type counters struct {
	at     time.Time
	rx, tx uint64
}

func readCounter(dev, name string) (uint64, bool) {
	if !config.ValidDevice(dev) {
		return 0, false
	}
	b, err := os.ReadFile("/sys/class/net/" + dev + "/statistics/" + name)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// sample records one history point per WAN (state goroutine).
func (d *Daemon) sample(now time.Time) {
	if d.history == nil {
		d.history = map[string][]Sample{}
		d.counters = map[string]counters{}
	}
	for i := range d.cfg.WANs {
		w := &d.cfg.WANs[i]
		t := d.trackers[w.Name]
		s := Sample{T: now.Unix(), RTTms: round2(float64(t.RTT()) / float64(time.Millisecond)), LossPct: round2(t.Loss()), State: string(t.State())}
		dev := d.device(w)
		rx, ok1 := readCounter(dev, "rx_bytes")
		tx, ok2 := readCounter(dev, "tx_bytes")
		if ok1 && ok2 {
			if prev, ok := d.counters[w.Name]; ok && rx >= prev.rx && tx >= prev.tx {
				secs := now.Sub(prev.at).Seconds()
				if secs > 0 {
					s.RxBps = round2(float64(rx-prev.rx) * 8 / secs)
					s.TxBps = round2(float64(tx-prev.tx) * 8 / secs)
				}
			}
			d.counters[w.Name] = counters{at: now, rx: rx, tx: tx}
		}
		h := append(d.history[w.Name], s)
		if len(h) > HistoryLength {
			h = h[len(h)-HistoryLength:]
		}
		d.history[w.Name] = h
	}
	for name := range d.history {
		if _, ok := d.cfg.WAN(name); !ok {
			delete(d.history, name)
		}
	}
}

func (d *Daemon) historyCopy() History {
	h := History{IntervalS: int(HistoryInterval / time.Second), WANs: map[string][]Sample{}}
	for name, s := range d.history {
		h.WANs[name] = slices.Clone(s)
	}
	return h
}

// metrics is the daemon's numbers (state goroutine).
func (d *Daemon) metrics() webui.Metrics {
	m := webui.Metrics{Applies: d.applies, ApplySeconds: d.applyTime.Seconds(), ApplyFailures: d.applyFailures}
	for i := range d.cfg.WANs {
		w := &d.cfg.WANs[i]
		t := d.trackers[w.Name]
		wm := webui.WANMetrics{Name: w.Name, State: string(t.State()), RTTSeconds: t.RTT().Seconds(), LossRatio: t.Loss() / 100,
			StateChanges: d.stateChanges[w.Name], Probes: d.probes[w.Name], ProbesOK: d.probesOK[w.Name], Offline: map[string]int{}}
		for c, n := range d.offlineBy[w.Name] {
			wm.Offline[string(c)] = n
		}
		if p := d.passiveStats[w.Name]; p != nil {
			wm.Suspicions, wm.Cleared = p.suspicions, p.cleared
		}
		if d.prev != nil {
			if pw, ok := d.prev.WAN(w.Name); ok {
				wm.Active, wm.Share = pw.Active, pw.Share
			}
		}
		wm.IPv6 = d.metrics6(w)
		wm.RxBytes, _ = readCounter(d.device(w), "rx_bytes")
		wm.TxBytes, _ = readCounter(d.device(w), "tx_bytes")
		m.WANs = append(m.WANs, wm)
	}
	return m
}
