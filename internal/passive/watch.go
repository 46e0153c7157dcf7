// Package passive watches each WAN's own traffic for the first sign of a
// silently dead uplink: the WAN keeps sending while nothing at all comes
// back. It does not decide anything itself. A suspicion goes to the
// daemon, which confirms it at once with a burst of probes and takes the
// WAN offline only when the burst fails too; a burst that is answered
// changes nothing.
//
// # The signal
//
// The kernel's packet counters of the WAN's device (/proc/net/dev, which
// rtnetlink reports too): transmitted against received. They were chosen
// over counters in wanlb's own firewall table and over conntrack because
// they are the same with both firewall backends (reading iptables counters
// means one process per read, far too costly several times a second), need
// no rule in the kernel, and one read of one file serves every WAN: a few
// microseconds of work, twice per window (five times while a WAN sends
// unanswered). Their blind spots are
// harmless for this job: received packets include ARP and anything the
// ISP's own equipment sends, which can only delay a suspicion, never raise
// one; transmitted packets include wanlb's own probes, which the daemon
// reports (Watcher.Probed) so that an idle WAN whose only traffic is
// probes keeps the probes' timing instead of being suspected on every
// lost reply.
//
// # The rule (Watch, pure)
//
// Every sample compares the counters with the previous one. Packets
// received clear everything. Packets sent with nothing received since,
// beyond what probes explain, start the clock at the previous sample (the
// earliest the packet can have left); once Window has passed with still
// nothing received, the WAN is suspect. (The last ACK of an answered
// exchange leaves microseconds after the answer came in, so it almost
// always falls in the same sample, which saw packets received.) While the daemon's burst runs no
// new suspicion is raised, and after a burst that was answered the WAN is
// left alone for Cooldown, so a LAN client hammering dead addresses costs
// at most one burst per Cooldown.
package passive

import "time"

// Counters are a device's packet counters.
type Counters struct {
	Rx, Tx uint64
}

// Suspicion says why a WAN is suspect: Sent packets left since Since and
// nothing came back.
type Suspicion struct {
	Since time.Time
	Sent  uint64
}

// Watch is the suspicion logic of one WAN. The zero value is ready once
// Window is set; it is not safe for concurrent use.
type Watch struct {
	// Window is how long a WAN may send with nothing received before it
	// is suspect.
	Window time.Duration
	// Cooldown is how long a WAN is left alone after a burst cleared it.
	Cooldown time.Duration

	have      bool
	last      Counters
	lastAt    time.Time
	credit    uint64    // sent packets probes explain, not yet seen in the counters
	creditAt  time.Time // when the last probe went out
	since     time.Time // zero: nothing unanswered
	sent      uint64
	pending   bool // a suspicion awaits its burst's verdict
	quietTill time.Time
}

// Probed notes n packets wanlb's own probes are about to send: sent
// packets up to this many, within one Window, are not traffic.
func (w *Watch) Probed(n uint64, now time.Time) {
	w.credit += n
	w.creditAt = now
}

// Sample takes the counters read at now and reports a new suspicion.
func (w *Watch) Sample(c Counters, now time.Time) (Suspicion, bool) {
	prev, prevAt := w.last, w.lastAt
	w.last, w.lastAt = c, now
	if !w.have || c.Rx < prev.Rx || c.Tx < prev.Tx {
		// First sample, or the counters were reset (device re-created).
		w.have = true
		w.since, w.sent = time.Time{}, 0
		return Suspicion{}, false
	}
	rx, tx := c.Rx-prev.Rx, c.Tx-prev.Tx
	if now.Sub(w.creditAt) > w.Window {
		w.credit = 0
	}
	probes := min(w.credit, tx)
	w.credit -= probes
	tx -= probes
	if rx > 0 {
		w.since, w.sent = time.Time{}, 0
		return Suspicion{}, false
	}
	if tx > 0 {
		if w.since.IsZero() {
			w.since = prevAt
		}
		w.sent += tx
	}
	if w.since.IsZero() || w.pending || now.Before(w.quietTill) || now.Sub(w.since) < w.Window {
		return Suspicion{}, false
	}
	w.pending = true
	return Suspicion{Since: w.since, Sent: w.sent}, true
}

// Resolve ends a suspicion: cleared (the burst was answered) leaves the
// WAN alone for Cooldown; otherwise the WAN went offline or is no longer
// watched, and the watch starts afresh.
func (w *Watch) Resolve(cleared bool, now time.Time) {
	w.pending = false
	w.since, w.sent = time.Time{}, 0
	if cleared {
		w.quietTill = now.Add(w.Cooldown)
	}
}

// Running reports whether the clock runs: packets went out unanswered and
// no suspicion is pending yet.
func (w *Watch) Running() bool { return !w.since.IsZero() && !w.pending }

// Pending reports whether a suspicion awaits its verdict.
func (w *Watch) Pending() bool { return w.pending }
