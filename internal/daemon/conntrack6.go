package daemon

import (
	"fmt"

	"github.com/wanlb/wanlb/internal/plan"
)

// conntrack6 deletes a mark's IPv6 entries only; *dataplane.KernelConntrack
// does.
type conntrack6 interface {
	DeleteMarked6(mark, mask uint32) error
}

// deleteConntrack6 deletes the IPv6 conntrack entries of every WAN whose
// IPv6 side stopped being usable while the WAN itself still is (when both
// stopped, deleteConntrack deleted both families), so its IPv6 flows move
// at once and its IPv4 ones stay.
func (d *Daemon) deleteConntrack6(old, p *plan.Plan) {
	ct, ok := d.kernel.Conntrack.(conntrack6)
	if !d.cfg.Globals.FlushConntrack || old == nil || !ok {
		return
	}
	for _, ow := range old.WANs {
		nw, found := p.WAN(ow.Name)
		if !ow.Usable6 || !found || !nw.Usable || !nw.Has6 || nw.Usable6 {
			continue
		}
		mark := old.MarkMask.Value(ow.Mark)
		if err := ct.DeleteMarked6(mark, uint32(old.MarkMask)); err != nil {
			d.log.Warn(fmt.Sprintf("%s: delete its IPv6 conntrack entries (mark %#x): %v", ow.Name, mark, err))
			continue
		}
		d.log.Info(fmt.Sprintf("%s: deleted its IPv6 conntrack entries (mark %#x)", ow.Name, mark))
	}
}
