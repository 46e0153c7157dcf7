package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/netifd"
)

// A WAN's IPv6 side: OpenWrt runs it as its own netifd interface (wan6
// beside wan, with DHCPv6 or SLAAC on the same device, or on pppoe-wan),
// named by the wan section's interface6. Its device and gateway are its
// own; so is its state when it is probed on its own (probing6.go).

// refreshNetifd6 asks netifd about w's IPv6 interface and reports whether
// what the plan uses changed.
func (d *Daemon) refreshNetifd6(ctx context.Context, w *config.WAN) bool {
	if d.kernel.Netifd == nil || !w.IPv6 || !netifd.ValidName(w.Interface6) {
		return false
	}
	if d.ifaces6 == nil {
		d.ifaces6 = map[string]netifd.Interface{}
	}
	qctx, cancel := context.WithTimeout(ctx, NetifdTimeout)
	ifc, err := d.kernel.Netifd(qctx, w.Interface6)
	cancel()
	if err != nil {
		d.log.Debug(fmt.Sprintf("netifd %s: %v", w.Interface6, err))
		ifc = netifd.Interface{Name: w.Interface6}
	}
	old, known := d.ifaces6[w.Name]
	d.ifaces6[w.Name] = ifc
	if known && old.Up == ifc.Up && old.Device == ifc.Device && old.Default6 == ifc.Default6 && old.Gateway6 == ifc.Gateway6 && slices.Equal(old.DNS, ifc.DNS) {
		return false
	}
	if known || ifc.Up {
		d.log.Info(fmt.Sprintf("netifd: %s (IPv6 of %s) up=%v device=%s gateway6=%s dns=%v", w.Interface6, w.Name, ifc.Up, ifc.Device, ifc.Gateway6, ifc.DNS))
	}
	return true
}

// side6 is w's IPv6 side now: whether it has one (gateway6 in the config,
// or an IPv6 default route from netifd on its interface6 or, for protocols
// that carry both families on one interface, on the WAN's own), and its
// device and next hop. The config's device6 and gateway6 win over netifd.
func (d *Daemon) side6(w *config.WAN) (bool, string, netip.Addr) {
	if !w.IPv6 {
		return false, "", netip.Addr{}
	}
	var from netifd.Interface
	if ifc := d.ifaces6[w.Name]; ifc.Up && ifc.Default6 {
		from = ifc
	} else if ifc := d.ifaces[w.Name]; ifc.Up && ifc.Default6 {
		from = ifc
	}
	has := w.Gateway6.IsValid() || from.Default6
	dev := w.Device6
	if dev == "" {
		dev = from.Device
	}
	if dev == "" {
		dev = d.device(w)
	}
	gw := w.Gateway6
	if !gw.IsValid() {
		gw = from.Gateway6
	}
	return has && dev != "", dev, gw
}
