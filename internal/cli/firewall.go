package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/uciconf"
)

// firewallWarnings checks, in <configDir>/firewall, that every WAN (a
// netifd interface) is in a firewall zone that masquerades. wanlb only
// steers connections; without masquerading on a WAN, LAN clients' packets
// would leave it with their private source addresses and no answer would
// come back. That is easy to miss when adding a second WAN, which OpenWrt
// does not put in the wan zone by itself.
//
// A missing file gives no warnings (not every system runs the OpenWrt
// firewall); one that cannot be read gives one warning. Zones are matched
// by their network option only: a zone that covers a WAN through device or
// subnet is not recognised, and a false warning is the lesser harm.
func firewallWarnings(configDir string, wans []string) []string {
	path := filepath.Join(configDir, "firewall")
	f, err := uciconf.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return []string{config.Problem{
			Msg:     fmt.Sprintf("the firewall config could not be read, so masquerading on the WANs was not checked: %v", err),
			Warning: true,
		}.String()}
	}
	zones := firewallZones(f)
	var out []string
	for _, wan := range wans {
		in := fwZonesOf(zones, wan)
		if len(in) == 0 {
			// Interfaces that proto handlers create (qmi's wwan_4, dhcpv6's
			// wan_6, ...) are named after their parent and put in its zone
			// through netifd, not through the firewall config.
			if parent, ok := fwDynamicParent(wan); ok {
				in = fwZonesOf(zones, parent)
			}
		}
		msg := ""
		switch {
		case len(in) == 0:
			msg = fmt.Sprintf("interface '%s' is in no firewall zone; its traffic would leave with LAN addresses", wan)
		case !fwAnyMasq(in):
			msg = fmt.Sprintf("interface '%s' is in no firewall zone with masquerading (option masq '1'); its traffic would leave with LAN addresses", wan)
		default:
			continue
		}
		out = append(out, config.Problem{Section: wan, Msg: msg, Warning: true}.String())
	}
	return out
}

// fwZone is the part of a firewall zone section that matters here.
type fwZone struct {
	networks map[string]bool
	masq     bool
	masq6    bool // fw4's IPv6 masquerading
}

// firewallZones reads the zones that fw3/fw4 would use: those with a name
// and not disabled. network may be a list or an option of space-separated
// names, as both firewalls accept.
func firewallZones(f *uciconf.File) []fwZone {
	var zones []fwZone
	for _, s := range f.OfType("zone") {
		if v, ok := fwOption(s, "name"); !ok || v == "" {
			continue // fw3 and fw4 ignore a zone without a name
		}
		if v, ok := fwOption(s, "enabled"); ok {
			if on, valid := config.ParseBool(v); valid && !on {
				continue
			}
		}
		z := fwZone{networks: map[string]bool{}}
		if o, ok := s.Get("network"); ok {
			for _, v := range o.Values {
				for _, n := range strings.Fields(v) {
					z.networks[n] = true
				}
			}
		}
		if v, ok := fwOption(s, "masq"); ok {
			// An invalid value is false, as the firewalls read it.
			z.masq, _ = config.ParseBool(v)
		}
		if v, ok := fwOption(s, "masq6"); ok {
			z.masq6, _ = config.ParseBool(v)
		}
		zones = append(zones, z)
	}
	return zones
}

// fwOption returns an option's value; for a list, its last item.
func fwOption(s *uciconf.Section, name string) (string, bool) {
	o, ok := s.Get(name)
	if !ok || len(o.Values) == 0 {
		return "", false
	}
	return o.Values[len(o.Values)-1], true
}

func fwZonesOf(zones []fwZone, network string) []fwZone {
	var out []fwZone
	for _, z := range zones {
		if z.networks[network] {
			out = append(out, z)
		}
	}
	return out
}

func fwAnyMasq(zones []fwZone) bool {
	for _, z := range zones {
		if z.masq {
			return true
		}
	}
	return false
}

// fwDynamicParent returns "wwan" for "wwan_4" and "wan" for "wan_6": the
// names netifd's proto handlers give the interfaces they add for a parent.
func fwDynamicParent(name string) (string, bool) {
	for _, suffix := range []string{"_4", "_6"} {
		if p, ok := strings.CutSuffix(name, suffix); ok && p != "" {
			return p, true
		}
	}
	return "", false
}
