package daemon

import "fmt"

// adopt reads the marks a previous daemon left in the kernel (after a
// crash or kill -9); the plan keeps them (plan.Input.Marks), so every WAN
// keeps its mark and existing connections their WAN. The first apply then
// replaces that state in one transaction, with no moment where traffic is
// unsteered.
func (d *Daemon) adopt() {
	marks, err := d.kernel.DataPlane.AdoptMarks()
	if err != nil || len(marks) == 0 {
		return
	}
	d.adopted = map[string]uint32{}
	for i := range d.cfg.WANs {
		w := &d.cfg.WANs[i]
		if m, ok := marks[d.device(w)]; ok {
			d.adopted[w.Name] = m
		}
	}
	d.log.Info(fmt.Sprintf("adopted the marks of %d WANs from a previous run", len(d.adopted)))
}
