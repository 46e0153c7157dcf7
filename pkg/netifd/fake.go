package netifd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wanlb/wanlb/pkg/config"
)

// fakeStatus is netifd's status object in netifd_dump_status's key order,
// so that what FakeUbusScript prints looks like the real thing to a person
// reading a lab log, not only to Parse.
type fakeStatus struct {
	Up        bool   `json:"up"`
	Pending   bool   `json:"pending"`
	Available bool   `json:"available"`
	Autostart bool   `json:"autostart"`
	Dynamic   bool   `json:"dynamic"`
	Uptime    *int   `json:"uptime,omitempty"`
	L3Device  string `json:"l3_device,omitempty"`
	Proto     string `json:"proto,omitempty"`
	Device    string `json:"device,omitempty"`
	*fakeUp
	Data struct{} `json:"data"`
}

// fakeUp holds the keys netifd prints only while the interface is up.
type fakeUp struct {
	Metric      int            `json:"metric"`
	DNSMetric   int            `json:"dns_metric"`
	Delegation  bool           `json:"delegation"`
	IPv4Address []any          `json:"ipv4-address"`
	IPv6Address []any          `json:"ipv6-address"`
	IPv6Prefix  []any          `json:"ipv6-prefix"`
	IPv6Assign  []any          `json:"ipv6-prefix-assignment"`
	Route       []fakeRoute    `json:"route"`
	DNSServer   []string       `json:"dns-server"`
	DNSSearch   []any          `json:"dns-search"`
	Neighbors   []any          `json:"neighbors"`
	Inactive    map[string]any `json:"inactive"`
}

type fakeRoute struct {
	Target  string `json:"target"`
	Mask    int    `json:"mask"`
	Nexthop string `json:"nexthop"`
	Source  string `json:"source"`
}

// StatusJSON renders iface the way `ubus call network.interface.<name>
// status` prints it (tab-indented, as the ubus CLI does). An up interface
// without a gateway gets a device default route (nexthop 0.0.0.0), as a
// point-to-point link has.
func StatusJSON(iface Interface) ([]byte, error) {
	s := fakeStatus{Up: iface.Up, Available: true, Autostart: true, Proto: iface.Proto}
	if iface.Up {
		uptime := 60
		s.Uptime = &uptime
		s.L3Device = iface.Device
		s.Device = iface.Device
		up := &fakeUp{
			IPv4Address: []any{}, IPv6Address: []any{}, IPv6Prefix: []any{}, IPv6Assign: []any{},
			Route: []fakeRoute{}, DNSServer: []string{}, DNSSearch: []any{}, Neighbors: []any{},
			Inactive: map[string]any{
				"ipv4-address": []any{}, "ipv6-address": []any{}, "route": []any{},
				"dns-server": []any{}, "dns-search": []any{}, "neighbors": []any{},
			},
		}
		switch {
		case iface.Gateway.IsValid():
			up.Route = append(up.Route, fakeRoute{Target: "0.0.0.0", Nexthop: iface.Gateway.String(), Source: "0.0.0.0/0"})
		case iface.Device != "":
			up.Route = append(up.Route, fakeRoute{Target: "0.0.0.0", Nexthop: "0.0.0.0", Source: "0.0.0.0/0"})
		}
		for _, d := range iface.DNS {
			up.DNSServer = append(up.DNSServer, d.String())
		}
		for _, a := range iface.Addrs {
			up.IPv4Address = append(up.IPv4Address, map[string]any{"address": a.Addr().String(), "mask": a.Bits()})
		}
		s.fakeUp = up
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "\t")
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("rendering interface '%s' status: %w", iface.Name, err)
	}
	return b.Bytes(), nil
}

// FakeUbusScript writes an executable `ubus` stand-in into dir that answers
// `call network.interface.<name> status` for the given interfaces (keyed by
// name; an Interface's own Name is ignored) with the JSON real netifd
// prints, and like real ubus prints "Command failed: Not found" and exits 4
// for any other interface. Any other command line is refused with exit 2,
// so a test notices when wanlb starts asking ubus something new. It returns
// the script's path; lab tests put dir first on PATH.
func FakeUbusScript(dir string, ifaces map[string]Interface) (path string, err error) {
	names := make([]string, 0, len(ifaces))
	for name := range ifaces {
		names = append(names, name)
	}
	sort.Strings(names) // the same map writes the same script
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# ubus stand-in written by netifd.FakeUbusScript\n")
	b.WriteString("if [ $# -ne 3 ] || [ \"$1\" != call ] || [ \"$3\" != status ]; then\n")
	b.WriteString("\techo \"fake ubus: unexpected arguments: $*\" >&2\n\texit 2\nfi\n")
	b.WriteString("case \"$2\" in\n")
	for _, name := range names {
		iface := ifaces[name]
		// The name goes into a case pattern, so it must be plain; the JSON
		// sits in a quoted here-document, which no JSON line can end. The
		// device and gateway are checked so that Parse can read them back.
		if !ValidName(name) {
			return "", fmt.Errorf("fake ubus: invalid interface name %q", name)
		}
		if iface.Device != "" && !config.ValidDevice(iface.Device) {
			return "", fmt.Errorf("fake ubus: interface '%s': invalid device %q", name, iface.Device)
		}
		if iface.Gateway.IsValid() && !iface.Gateway.Is4() {
			return "", fmt.Errorf("fake ubus: interface '%s': gateway %s is not IPv4", name, iface.Gateway)
		}
		iface.Name = name
		js, err := StatusJSON(iface)
		if err != nil {
			return "", fmt.Errorf("fake ubus: %w", err)
		}
		fmt.Fprintf(&b, "network.interface.%s)\n\tcat <<'EOF'\n%sEOF\n\t;;\n", name, js)
	}
	b.WriteString("*)\n\techo 'Command failed: Not found' >&2\n\texit 4\n\t;;\nesac\n")

	path = filepath.Join(dir, "ubus")
	if err := os.WriteFile(path, []byte(b.String()), 0o755); err != nil {
		return "", fmt.Errorf("writing fake ubus: %w", err)
	}
	// WriteFile keeps the mode of an existing file; make sure it runs.
	if err := os.Chmod(path, 0o755); err != nil {
		return "", fmt.Errorf("writing fake ubus: %w", err)
	}
	return path, nil
}
