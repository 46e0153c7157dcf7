package daemon

import (
	"fmt"
	"math"
	"net"
	"os"
	"time"
)

// Status is what `wanlb status --json` prints (README, Command line).
type Status struct {
	Hostname string      `json:"hostname"`
	PID      int         `json:"pid"`
	Version  string      `json:"version,omitempty"`
	Updated  time.Time   `json:"updated"`
	Backend  string      `json:"backend"` // firewall backend: nftables | iptables
	WANs     []WANStatus `json:"wans"`
	Problems []string    `json:"problems,omitempty"` // of the config on disk, when it was refused
}

// WANStatus is one WAN in Status.
type WANStatus struct {
	Name    string    `json:"name"`
	Label   string    `json:"label"`
	State   string    `json:"state"`
	Active  bool      `json:"active"`
	Standby bool      `json:"standby"`
	Share   float64   `json:"share"`
	RTTms   float64   `json:"rtt_ms"`
	LossPct float64   `json:"loss_pct"`
	Since   time.Time `json:"since"`
	// OfflineReason is why the WAN is offline (or went offline last, while
	// connecting): probes, traffic or carrier; empty otherwise.
	OfflineReason string  `json:"offline_reason,omitempty"`
	Device        string  `json:"device"`
	Gateway       string  `json:"gateway,omitempty"`
	Mark          string  `json:"mark,omitempty"`
	Address       string  `json:"address,omitempty"` // the device's first IPv4 address
	RxBps         float64 `json:"rx_bps"`            // over the last history step
	TxBps         float64 `json:"tx_bps"`
	// Changes are the WAN's last state changes, oldest first.
	Changes []StateChange `json:"changes"`
	// IPv6 is the WAN's IPv6 side while it has one (status6.go).
	IPv6 *WAN6Status `json:"ipv6,omitempty"`
}

// StateChange is one transition of a WAN's state.
type StateChange struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
}

// MaxChanges is how many state changes per WAN the status keeps.
const MaxChanges = 10

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// status builds the current Status.
func (d *Daemon) status() Status {
	s := Status{PID: os.Getpid(), Version: d.opts.Version, Updated: d.clock.Now().UTC(), WANs: []WANStatus{}}
	s.Hostname, _ = os.Hostname()
	s.Backend = d.kernel.DataPlane.Backend()
	for _, p := range d.problems {
		s.Problems = append(s.Problems, p.String())
	}
	for _, w := range d.cfg.WANs {
		t := d.trackers[w.Name]
		ws := WANStatus{
			Name: w.Name, Label: w.DisplayName(), State: string(t.State()),
			RTTms: round2(float64(t.RTT()) / float64(time.Millisecond)), LossPct: round2(t.Loss()),
			Since: t.Since().UTC(), Device: d.device(&w), OfflineReason: string(t.OfflineReason()),
		}
		if d.prev != nil {
			if pw, ok := d.prev.WAN(w.Name); ok {
				if pw.Gateway.IsValid() {
					ws.Gateway = pw.Gateway.String()
				}
				ws.Active, ws.Standby, ws.Share = pw.Active, pw.Standby, round2(pw.Share)
				ws.Mark = fmt.Sprintf("%#x", d.prev.MarkMask.Value(pw.Mark))
			}
		}
		if h := d.history[w.Name]; len(h) > 0 {
			ws.RxBps, ws.TxBps = h[len(h)-1].RxBps, h[len(h)-1].TxBps
		}
		ws.Address = firstIPv4(ws.Device)
		ws.Changes = append([]StateChange{}, d.changes[w.Name]...)
		ws.IPv6 = d.status6(&w)
		s.WANs = append(s.WANs, ws)
	}
	return s
}

// firstIPv4 is a device's first IPv4 address, "" when it has none.
func firstIPv4(dev string) string {
	if dev == "" {
		return ""
	}
	ifc, err := net.InterfaceByName(dev)
	if err != nil {
		return ""
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
