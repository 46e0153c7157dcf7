package daemon

import (
	"fmt"
	"net/netip"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/plan"
	"github.com/wanlb/wanlb/internal/prefix6"
)

// Prefixes is the kernel's view of the router's IPv6 LAN addresses, for
// ipv6_mode 'routed'; prefix6.System is the real one.
type Prefixes interface {
	Addrs(skip func(dev string) bool) ([]prefix6.Addr, error)
	SetPreferred(a prefix6.Addr, preferred uint32) error
}

// steer6 makes LAN hosts stop choosing a dead WAN's prefix in routed mode
// (package prefix6): the router's LAN addresses from the prefixes of WANs
// whose IPv6 side is not usable get preferred lifetime 0, so the router
// advertisements deprecate them, and get it back on recovery. In
// translated mode, or with p nil (stop), every address it deprecated gets
// its lifetime back.
func (d *Daemon) steer6(p *plan.Plan) {
	if d.kernel.Prefixes == nil || d.cfg == nil {
		return
	}
	active := p != nil && p.Enabled && d.cfg.Globals.IPv6Mode == config.IPv6Routed
	if !active && len(d.deprecated6) == 0 {
		return
	}
	wanDevs := map[string]bool{}
	dead := map[string]bool{}
	if p != nil {
		for _, w := range p.WANs {
			wanDevs[w.Device] = true
			if w.Has6 {
				wanDevs[w.Device6] = true
				if active && !w.Usable6 {
					dead[w.Device6] = true
				}
			}
		}
	}
	for i := range d.cfg.WANs {
		wanDevs[d.device(&d.cfg.WANs[i])] = true
	}
	addrs, err := d.kernel.Prefixes.Addrs(func(dev string) bool { return wanDevs[dev] })
	if err != nil {
		d.log.Warn("routed IPv6: " + err.Error())
		return
	}
	changes, saved := prefix6.Decide(addrs, dead, d.deprecated6, d.clock.Now())
	for _, c := range changes {
		if err := d.kernel.Prefixes.SetPreferred(c.Addr, c.Preferred); err != nil {
			d.log.Warn("routed IPv6: " + err.Error())
			// Try again next time: keep what was saved, forget a failed
			// deprecation.
			if old, ok := d.deprecated6[c.Addr.Prefix]; ok {
				saved[c.Addr.Prefix] = old
			} else {
				delete(saved, c.Addr.Prefix)
			}
			continue
		}
		if c.Restore {
			d.log.Info(fmt.Sprintf("routed IPv6: %s on %s preferred again (%s): hosts may choose its prefix", c.Addr.Prefix, c.Addr.Dev, lifetime(c.Preferred)))
		} else {
			d.log.Info(fmt.Sprintf("routed IPv6: %s on %s deprecated: %s's IPv6 is down, so hosts stop choosing its prefix", c.Addr.Prefix, c.Addr.Dev, c.Addr.Out))
		}
	}
	d.deprecated6 = saved
}

func lifetime(s uint32) string {
	if s == prefix6.Forever {
		return "forever"
	}
	return fmt.Sprintf("%ds", s)
}

// deprecated6 is what steer6 deprecated, by prefix: kept on Daemon.
type deprecated6 = map[netip.Prefix]prefix6.Saved
