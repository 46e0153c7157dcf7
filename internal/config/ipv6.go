package config

import (
	"net/netip"

	"github.com/wanlb/wanlb/internal/uciconf"
)

// ipv6 reads a wan section's IPv6 options: the IPv6 side of the uplink,
// which OpenWrt names '<section>6' in netifd (wan/wan6, wanb/wanb6).
func (w *WAN) ipv6(r *section) {
	v := r.oneOf("ipv6")
	w.IPv6 = v != "off"
	w.IPv6Translated = v == "on"
	w.Interface6 = r.str("interface6")
	if w.Interface6 == "" {
		w.Interface6 = w.Name + "6"
	} else if !ValidInterface(w.Interface6) {
		r.fail("interface6", w.Interface6, "must be a netifd interface name (letters, digits and '_')")
	}
	w.Device6 = r.str("device6")
	if w.Device6 != "" && !ValidDevice(w.Device6) {
		r.fail("device6", w.Device6, "must be a network device name (letters, digits, '_', '.', '-', at most 15)")
	}
	if g, ok := r.value("gateway6"); ok && g != "" {
		a, err := netip.ParseAddr(g)
		switch {
		case err != nil:
			r.fail("gateway6", g, "must be an IPv6 address")
		case a.Zone() != "":
			// The route names the device; a zone would be a second,
			// possibly different, one.
			r.fail("gateway6", g, "must not carry a zone; set device6 for a link-local gateway")
		case !a.Is6() || a.Is4In6():
			r.fail("gateway6", g, "must be an IPv6 address (the IPv4 next hop is gateway)")
		case a.IsUnspecified() || a.IsMulticast():
			r.fail("gateway6", g, "must be a unicast address")
		default:
			w.Gateway6 = a
		}
	}
}

// ValidInterface reports whether s is a netifd interface name wanlb asks
// about: a UCI section name of /etc/config/network.
func ValidInterface(s string) bool { return uciconf.ValidName(s) }

// families reports which IP families a list of address matches holds.
func families(ms []AddrMatch) (v4, v6 bool) {
	for _, m := range ms {
		if m.Is6() {
			v6 = true
		} else {
			v4 = true
		}
	}
	return v4, v6
}

// Is6 reports whether t probes over IPv6: an IPv6 address (ICMP, the DNS
// server) or an IPv6 literal as the host of a tcp:// or http(s):// target.
// A host name is probed over IPv4: its probes judge the WAN's IPv4 side.
func (t Target) Is6() bool {
	switch t.Kind {
	case TargetICMP, TargetDNS:
		return t.Addr.Is6() && !t.Addr.Is4In6()
	}
	a, err := netip.ParseAddr(t.Host)
	return err == nil && a.Is6() && !a.Is4In6()
}
