// Package fwzone reads the zones of OpenWrt's firewall config
// (/etc/config/firewall, as fw3 and fw4 read it): which netifd interfaces
// each zone covers and whether it masquerades IPv4 (masq) and IPv6
// (masq6). `wanlb check` warns from it; the daemon balances a WAN's IPv6
// side in translated mode only when its zone masquerades IPv6.
//
// Zones are matched by their network option only: a zone that covers an
// interface through device or subnet is not recognised.
package fwzone

import (
	"strings"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/uciconf"
)

// Zone is the part of a firewall zone section that matters to wanlb.
type Zone struct {
	Name     string
	Networks map[string]bool
	Masq     bool
	Masq6    bool // fw4's IPv6 masquerading
}

// Read reads the zones of the firewall config at path.
func Read(path string) ([]Zone, error) {
	f, err := uciconf.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(f), nil
}

// Parse returns the zones that fw3/fw4 would use: those with a name and
// not disabled. network may be a list or an option of space-separated
// names, as both firewalls accept.
func Parse(f *uciconf.File) []Zone {
	var zones []Zone
	for _, s := range f.OfType("zone") {
		name, ok := option(s, "name")
		if !ok || name == "" {
			continue // fw3 and fw4 ignore a zone without a name
		}
		if v, ok := option(s, "enabled"); ok {
			if on, valid := config.ParseBool(v); valid && !on {
				continue
			}
		}
		z := Zone{Name: name, Networks: map[string]bool{}}
		if o, ok := s.Get("network"); ok {
			for _, v := range o.Values {
				for _, n := range strings.Fields(v) {
					z.Networks[n] = true
				}
			}
		}
		// An invalid value is false, as the firewalls read it.
		if v, ok := option(s, "masq"); ok {
			z.Masq, _ = config.ParseBool(v)
		}
		if v, ok := option(s, "masq6"); ok {
			z.Masq6, _ = config.ParseBool(v)
		}
		zones = append(zones, z)
	}
	return zones
}

// option returns an option's value; for a list, its last item.
func option(s *uciconf.Section, name string) (string, bool) {
	o, ok := s.Get(name)
	if !ok || len(o.Values) == 0 {
		return "", false
	}
	return o.Values[len(o.Values)-1], true
}

// Of returns the zones that cover network.
func Of(zones []Zone, network string) []Zone {
	var out []Zone
	for _, z := range zones {
		if z.Networks[network] {
			out = append(out, z)
		}
	}
	return out
}

// OfInterface is Of, falling back for interfaces that proto handlers
// create (qmi's wwan_4, dhcpv6's wan_6, ...): netifd puts those in their
// parent's zone, not the firewall config.
func OfInterface(zones []Zone, iface string) []Zone {
	in := Of(zones, iface)
	if len(in) == 0 {
		if parent, ok := DynamicParent(iface); ok {
			in = Of(zones, parent)
		}
	}
	return in
}

// Side6 returns the zones of a WAN's IPv6 side: those of its interface6
// (wan6 for wan) or, when that is in none, of the WAN's own interface (one
// netifd interface can carry both families).
func Side6(zones []Zone, interface6, wan string) []Zone {
	if in := OfInterface(zones, interface6); len(in) > 0 {
		return in
	}
	return Of(zones, wan)
}

// AnyMasq reports whether one of zones masquerades IPv4.
func AnyMasq(zones []Zone) bool {
	for _, z := range zones {
		if z.Masq {
			return true
		}
	}
	return false
}

// AnyMasq6 reports whether one of zones masquerades IPv6.
func AnyMasq6(zones []Zone) bool {
	for _, z := range zones {
		if z.Masq6 {
			return true
		}
	}
	return false
}

// DynamicParent returns "wwan" for "wwan_4" and "wan" for "wan_6": the
// names netifd's proto handlers give the interfaces they add for a parent.
func DynamicParent(name string) (string, bool) {
	for _, suffix := range []string{"_4", "_6"} {
		if p, ok := strings.CutSuffix(name, suffix); ok && p != "" {
			return p, true
		}
	}
	return "", false
}
