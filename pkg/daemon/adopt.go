package daemon

import (
	"fmt"

	"github.com/wanlb/wanlb/pkg/plan"
)

// adopt seeds the marks from the kernel state a previous daemon left
// (after a crash or kill -9), so every WAN keeps its mark and existing
// connections their WAN. The first apply then replaces that state in one
// transaction, with no moment where traffic is unsteered.
func (d *Daemon) adopt() {
	marks, err := d.kernel.DataPlane.AdoptMarks()
	if err != nil || len(marks) == 0 {
		return
	}
	seed := &plan.Plan{MarkMask: d.cfg.Globals.MarkMask}
	for i := range d.cfg.WANs {
		w := &d.cfg.WANs[i]
		if m, ok := marks[d.device(w)]; ok {
			seed.WANs = append(seed.WANs, plan.WAN{Name: w.Name, Mark: m})
		}
	}
	d.prev = seed
	d.log.Info(fmt.Sprintf("adopted the marks of %d WANs from a previous run", len(seed.WANs)))
}
