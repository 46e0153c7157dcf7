package daemon

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/linkmon"
	"github.com/wanlb/wanlb/internal/netifd"
)

// A WAN's link: its device (from the config or netifd), the device's
// carrier (linkmon) and netifd's view of the interface. Together they say
// whether the WAN is usable at layer 2, before any probe.

// NetifdTimeout bounds one netifd lookup.
const NetifdTimeout = 5 * time.Second

// device is a WAN's L3 device: from the config, else from netifd.
func (d *Daemon) device(w *config.WAN) string {
	if w.Device != "" {
		return w.Device
	}
	return d.ifaces[w.Name].Device
}

// refreshNetifd asks netifd about one WAN (by interface name) or, with "",
// every WAN. It reports whether anything the plan uses changed.
func (d *Daemon) refreshNetifd(ctx context.Context, only string) bool {
	if d.kernel.Netifd == nil {
		return false
	}
	if d.ifaces == nil {
		d.ifaces = map[string]netifd.Interface{}
	}
	changed := false
	for _, w := range d.cfg.WANs {
		if w.Enabled && (only == "" || only == w.Interface6) && d.refreshNetifd6(ctx, &w) {
			changed = true
		}
		if (only != "" && w.Name != only) || !w.Enabled {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, NetifdTimeout)
		ifc, err := d.kernel.Netifd(qctx, w.Name)
		cancel()
		if err != nil {
			d.log.Debug(fmt.Sprintf("netifd %s: %v", w.Name, err))
			ifc = netifd.Interface{Name: w.Name}
		}
		old := d.ifaces[w.Name]
		d.ifaces[w.Name] = ifc
		if old.Up != ifc.Up || old.Device != ifc.Device || old.Gateway != ifc.Gateway || !slices.Equal(old.DNS, ifc.DNS) {
			changed = true
			d.log.Info(fmt.Sprintf("netifd: %s up=%v device=%s gateway=%s dns=%v", w.Name, ifc.Up, ifc.Device, ifc.Gateway, ifc.DNS))
			if dev := d.device(&w); dev != "" {
				d.links[dev] = d.kernel.Links.Get(dev)
			}
			if t := d.trackers[w.Name]; t != nil {
				if ch, ok := t.Carrier(d.carrier(&w), d.clock.Now()); ok {
					d.logChange(w.Name, ch)
				}
			}
		}
	}
	return changed
}

// carrier is whether a WAN's link is usable at layer 2: its device has
// carrier and, when netifd knows the interface, netifd has it up.
func (d *Daemon) carrier(w *config.WAN) bool {
	dev := d.device(w)
	if dev == "" || !d.links[dev].Carrier {
		return false
	}
	if ifc, ok := d.ifaces[w.Name]; ok && d.kernel.Netifd != nil && (w.Device == "" || ifc.Device != "") {
		return ifc.Up
	}
	return true
}

// onLink takes a device's new link state; a WAN whose carrier changed
// changes state, and the plan follows.
func (d *Daemon) onLink(l linkmon.Link) {
	prev, known := d.links[l.Device]
	d.links[l.Device] = l
	if known && prev.Carrier == l.Carrier {
		return
	}
	now := d.clock.Now()
	changed := false
	for _, w := range d.cfg.WANs {
		if d.device(&w) != l.Device {
			continue
		}
		if ch, ok := d.trackers[w.Name].Carrier(d.carrier(&w), now); ok {
			d.logChange(w.Name, ch)
			changed = true
		}
	}
	if changed {
		d.replan("carrier " + l.Device)
	}
}
