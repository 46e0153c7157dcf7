package tracker

import (
	"testing"
	"time"
)

// A failed traffic confirmation takes a usable WAN offline at once; the
// status then says why, for every cause.
func TestTrafficAndOfflineReason(t *testing.T) {
	tests := []struct {
		name      string
		settings  Settings
		events    []string // feed's events, then "traffic"
		want      State
		reason    Cause
		changeTxt string // the traffic change's reason, if one is expected
	}{
		{"online: offline by traffic", defaults(), []string{"+", "traffic"}, Offline, CauseTraffic, "traffic: 12 packets unanswered"},
		{"disconnecting: offline by traffic", defaults(), []string{"-", "traffic"}, Offline, CauseTraffic, "traffic: 12 packets unanswered"},
		{"offline stays offline, cause kept", defaults(), []string{"-", "-", "-", "traffic"}, Offline, CauseProbes, ""},
		{"connecting is not usable: ignored", defaults(), []string{"carrier-", "carrier+", "traffic"}, Connecting, CauseCarrier, ""},
		{"always_online ignores traffic", Settings{AlwaysOnline: true}, []string{"traffic"}, Online, "", ""},
		{"back online: no reason", defaults(), []string{"traffic", "+", "+", "+"}, Online, "", ""},
		{"connecting after traffic keeps the reason", defaults(), []string{"traffic", "+"}, Connecting, CauseTraffic, ""},
		{"failed rounds", defaults(), []string{"-", "-", "-"}, Offline, CauseProbes, ""},
		{"cold start failing", defaults(), []string{"start-connecting", "-"}, Offline, CauseProbes, ""},
		{"loss", Settings{Reliability: 1, Down: 3, Up: 3, MaxLoss: 20}, []string{"+--", "+--", "+--", "+--", "+--", "+--", "+--", "+--", "+--", "+--"}, Offline, CauseProbes, ""},
		{"carrier", defaults(), []string{"carrier-"}, Offline, CauseCarrier, ""},
		{"enabled without carrier", defaults(), []string{"disable", "carrier-", "enable"}, Offline, CauseCarrier, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(tc.settings, Online, t0)
			at := t0
			var last Change
			var changed bool
			for _, ev := range tc.events {
				at = at.Add(time.Second)
				switch ev {
				case "start-connecting":
					tr = New(tc.settings, Connecting, at)
				case "traffic":
					last, changed = tr.Traffic(at, "12 packets unanswered")
				default:
					feed(tr, ev, at)
				}
			}
			if tr.State() != tc.want || tr.OfflineReason() != tc.reason {
				t.Errorf("state %s reason %q, want %s %q", tr.State(), tr.OfflineReason(), tc.want, tc.reason)
			}
			if tc.changeTxt != "" && (!changed || last.Reason != tc.changeTxt || last.To != Offline) {
				t.Errorf("traffic change %+v (%v), want to offline with reason %q", last, changed, tc.changeTxt)
			}
		})
	}
}
