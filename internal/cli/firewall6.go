package cli

import (
	"fmt"
	"path/filepath"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/fwzone"
)

// masq6Warnings checks, in <configDir>/firewall, that in ipv6_mode
// 'translated' the IPv6 side of every WAN with IPv6 on is in a firewall
// zone that masquerades IPv6 (fw4's option masq6). Translated mode moves
// a LAN host's IPv6 connection to whichever WAN carries it; without the
// translation it would leave that WAN with a source address from another
// ISP's prefix (or a ULA) and its answers would never come back.
//
// The IPv6 side is the WAN's interface6 (wan6 for wan); when that is in
// no zone, the WAN's own interface counts (one netifd interface can carry
// both families). A side in no zone at all is left to firewallWarnings,
// which warns for the WAN's interface. An unreadable file was reported
// there too. NPTv6 set up by other means is not recognised: the warning
// says so.
func masq6Warnings(configDir string, c *config.Config) []string {
	if c.Globals.IPv6Mode != config.IPv6Translated {
		return nil
	}
	zones, err := fwzone.Read(filepath.Join(configDir, "firewall"))
	if err != nil {
		return nil // missing: no OpenWrt firewall; unreadable: firewallWarnings says so
	}
	var out []string
	for _, w := range c.WANs {
		if !w.Enabled || !w.IPv6 || w.IPv6Translated {
			continue
		}
		in := fwzone.Side6(zones, w.Interface6, w.Name)
		if len(in) == 0 || fwzone.AnyMasq6(in) {
			continue
		}
		out = append(out, config.Problem{Section: w.Name, Option: "ipv6", Warning: true, Msg: fmt.Sprintf(
			"interface '%s' (the IPv6 side) is in no firewall zone with IPv6 masquerading (option masq6 '1'); with ipv6_mode 'translated' "+
				"its IPv6 connections would leave with other networks' addresses (ignore this if NPTv6 translates them; "+
				"set option ipv6 'off' for a WAN without IPv6)", w.Interface6)}.String())
	}
	return out
}
