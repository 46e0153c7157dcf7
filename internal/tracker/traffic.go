package tracker

import "time"

// Cause is why a WAN went offline, as the status and metrics show it.
type Cause string

// The causes.
const (
	CauseProbes  Cause = "probes"  // failed probe rounds, or loss above max_loss
	CauseTraffic Cause = "traffic" // its own traffic went unanswered and a probe burst failed
	CauseCarrier Cause = "carrier" // the link lost carrier (or netifd has it down)
)

// Traffic takes a usable WAN offline at once: its traffic went unanswered
// (package passive) and a burst of probes to every target failed too.
// detail says what was seen, for the log. A WAN that is not usable is left
// as it is: the probes decide when it comes back, as after any outage.
func (t *Tracker) Traffic(at time.Time, detail string) (Change, bool) {
	t.last = at
	if !t.Usable() || t.noCarrier || t.s.AlwaysOnline {
		return Change{}, false
	}
	t.fails, t.goods, t.cause = 0, 0, CauseTraffic
	return t.to(Offline, at, "traffic: "+detail)
}

// OfflineReason is why the WAN is offline, or why it went offline last
// while it is connecting again; "" in every other state.
func (t *Tracker) OfflineReason() Cause {
	if t.state == Offline || t.state == Connecting {
		return t.cause
	}
	return ""
}
