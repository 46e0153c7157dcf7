package daemon

import (
	"fmt"

	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/plan"
)

// DataPlane is what the daemon needs from the data plane.
// *dataplane.DataPlane is the real one; tests use fakes that fail on
// purpose.
type DataPlane interface {
	Apply(*plan.Plan) (dataplane.Result, error)
	// Intact reports whether the state of the last apply is still there.
	Intact(*dataplane.Desired) bool
	RequestFullSync()
	Flush() error
	AdoptMarks() (map[string]uint32, error)
	// Backend names the firewall backend ("nftables" or "iptables").
	Backend() string
	// Changes delivers a value soon after someone else changed wanlb's
	// firewall rules, when the backend can tell; nil otherwise.
	Changes() <-chan struct{}
}

// deleteConntrack deletes the conntrack entries of every WAN that was
// usable in old (what the kernel carried) and is not in p (what it carries
// now), so their UDP flows move at once instead of sticking to a dead
// link. It runs only after p was applied: before that the kernel would
// put new connections right back on the dead WAN.
func (d *Daemon) deleteConntrack(old, p *plan.Plan) {
	if !d.cfg.Globals.FlushConntrack || old == nil || d.kernel.Conntrack == nil {
		return
	}
	for _, ow := range old.WANs {
		nw, ok := p.WAN(ow.Name)
		if !ow.Usable || (ok && nw.Usable) {
			continue
		}
		mark := old.MarkMask.Value(ow.Mark)
		if err := d.kernel.Conntrack.DeleteMarked(mark, uint32(old.MarkMask)); err != nil {
			d.log.Warn(fmt.Sprintf("%s: delete its conntrack entries (mark %#x): %v", ow.Name, mark, err))
			continue
		}
		d.log.Info(fmt.Sprintf("%s: deleted its conntrack entries (mark %#x)", ow.Name, mark))
	}
}
