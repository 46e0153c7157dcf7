package passive

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Spec says how to watch one WAN.
type Spec struct {
	WAN      string
	Device   string
	Window   time.Duration
	Cooldown time.Duration
	// Armed: the WAN carries traffic now (online or disconnecting). Only
	// armed WANs are judged: an offline WAN is the probes' business.
	Armed bool
}

// Event is a suspicion of one WAN, raised at At.
type Event struct {
	WAN string
	Gen int // the generation of the watcher that raised it
	At  time.Time
	Suspicion
}

// Steps is how many samples make up a Window while a WAN's clock runs
// (it sent with nothing back): the suspicion comes at most Window/Steps
// after Window has passed. Otherwise samples come every Window/CoarseSteps:
// each wakeup costs the daemon CPU (measured about 0.5 ms on a small VM),
// and most samples of a working WAN see packets received. A clock started
// by a coarse sample dates from the sample before, so a packet gets at
// least Window - Window/CoarseSteps of silence before the burst judges.
const (
	Steps       = 5
	CoarseSteps = 2
)

// MinStep bounds the sampling period from below.
const MinStep = 20 * time.Millisecond

// Watcher samples the counters of every watched WAN on its own goroutine
// and sends suspicions on a channel, like the probe monitor sends rounds.
// Restart, Stop and Gen are for the daemon's state goroutine; Arm,
// Resolve and Probed may be called from any goroutine.
type Watcher struct {
	out chan<- Event
	src Source
	log *slog.Logger

	mu      sync.Mutex
	gen     int
	watches map[string]*entry // by WAN
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	warned  bool
}

type entry struct {
	spec  Spec
	watch Watch
}

// New returns a watcher reading src and sending on out.
func New(out chan<- Event, src Source, log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{out: out, src: src, log: log, watches: map[string]*entry{}}
}

// Gen is the current generation: events carrying another are stale.
func (w *Watcher) Gen() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gen
}

// Restart stops watching and starts again with specs, in a new
// generation; no specs means nothing is watched and no goroutine runs.
func (w *Watcher) Restart(ctx context.Context, specs []Spec) {
	w.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	w.watches = map[string]*entry{}
	var fine, coarse time.Duration
	for _, s := range specs {
		w.watches[s.WAN] = &entry{spec: s, watch: Watch{Window: s.Window, Cooldown: s.Cooldown}}
		if st := max(s.Window/Steps, MinStep); fine == 0 || st < fine {
			fine = st
		}
		if st := max(s.Window/CoarseSteps, MinStep); coarse == 0 || st < coarse {
			coarse = st
		}
	}
	if len(specs) == 0 {
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	w.wg.Add(1)
	go w.run(cctx, w.gen, fine, coarse)
}

// Stop ends the sampling goroutine and waits for it.
func (w *Watcher) Stop() {
	w.mu.Lock()
	cancel := w.cancel
	w.cancel = nil
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	w.wg.Wait()
}

// Arm starts or stops judging a WAN; a suspicion pending on it is dropped.
func (w *Watcher) Arm(wan string, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.watches[wan]; ok && e.spec.Armed != on {
		e.spec.Armed = on
		e.watch.Resolve(false, time.Now())
	}
}

// Resolve gives a suspicion its verdict: cleared when the burst was
// answered.
func (w *Watcher) Resolve(wan string, cleared bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.watches[wan]; ok {
		e.watch.Resolve(cleared, time.Now())
	}
}

// Probed notes that wanlb's own probes are about to send up to n packets
// through dev, so that they are not mistaken for traffic.
func (w *Watcher) Probed(dev string, n uint64) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.watches {
		if e.spec.Device == dev {
			e.watch.Probed(n, now)
		}
	}
}

func (w *Watcher) run(ctx context.Context, gen int, fine, coarse time.Duration) {
	defer w.wg.Done()
	timer := time.NewTimer(coarse)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		events, running := w.sample(gen)
		if running {
			timer.Reset(fine)
		} else {
			timer.Reset(coarse)
		}
		for _, ev := range events {
			select {
			case w.out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}

// sample reads the counters once and runs every armed WAN's Watch; it
// reports whether some WAN's clock runs (fine sampling needed).
func (w *Watcher) sample(gen int) (events []Event, running bool) {
	counters, err := w.src.Read()
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if !w.warned {
			w.warned = true
			w.log.Warn(fmt.Sprintf("passive detection paused: %v", err))
		}
		return nil, false
	}
	w.warned = false
	for wan, e := range w.watches {
		c, ok := counters[e.spec.Device]
		if !ok || !e.spec.Armed {
			// Start afresh when the device or the watch comes back.
			e.watch.have = false
			continue
		}
		if s, ok := e.watch.Sample(c, now); ok {
			events = append(events, Event{WAN: wan, Gen: gen, At: now, Suspicion: s})
		}
		running = running || e.watch.Running()
	}
	return events, running
}
