package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/fwzone"
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
	zones, err := fwzone.Read(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return []string{config.Problem{
			Msg:     fmt.Sprintf("the firewall config could not be read, so masquerading on the WANs was not checked: %v", err),
			Warning: true,
		}.String()}
	}
	var out []string
	for _, wan := range wans {
		in := fwzone.OfInterface(zones, wan)
		msg := ""
		switch {
		case len(in) == 0:
			msg = fmt.Sprintf("interface '%s' is in no firewall zone; its traffic would leave with LAN addresses", wan)
		case !fwzone.AnyMasq(in):
			msg = fmt.Sprintf("interface '%s' is in no firewall zone with masquerading (option masq '1'); its traffic would leave with LAN addresses", wan)
		default:
			continue
		}
		out = append(out, config.Problem{Section: wan, Msg: msg, Warning: true}.String())
	}
	return out
}
