// Package netifdtest renders netifd's answers (`network.interface.<name>
// status` and `network.interface dump`) from netifd.Interface values the
// way real netifd prints them, so that tests can serve them on a real
// ubusd (openwrttest.Tools.Netifd) and wanlb reads them through its
// production path. It is imported by tests only.
package netifdtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	"github.com/wanlb/wanlb/internal/openwrttest"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/netifd"
)

// status is netifd's status object in netifd_dump_status's key order, so
// that what is served looks like the real thing to a person reading a
// log, not only to netifd.Parse. Interface is set in a dump's entries only.
type status struct {
	Interface string `json:"interface,omitempty"`
	Up        bool   `json:"up"`
	Pending   bool   `json:"pending"`
	Available bool   `json:"available"`
	Autostart bool   `json:"autostart"`
	Dynamic   bool   `json:"dynamic"`
	Uptime    *int   `json:"uptime,omitempty"`
	L3Device  string `json:"l3_device,omitempty"`
	Proto     string `json:"proto,omitempty"`
	Device    string `json:"device,omitempty"`
	*upKeys
	Data struct{} `json:"data"`
}

// upKeys holds the keys netifd prints only while the interface is up.
type upKeys struct {
	Metric      int            `json:"metric"`
	DNSMetric   int            `json:"dns_metric"`
	Delegation  bool           `json:"delegation"`
	IPv4Address []any          `json:"ipv4-address"`
	IPv6Address []any          `json:"ipv6-address"`
	IPv6Prefix  []any          `json:"ipv6-prefix"`
	IPv6Assign  []any          `json:"ipv6-prefix-assignment"`
	Route       []route        `json:"route"`
	DNSServer   []string       `json:"dns-server"`
	DNSSearch   []any          `json:"dns-search"`
	Neighbors   []any          `json:"neighbors"`
	Inactive    map[string]any `json:"inactive"`
}

type route struct {
	Target  string `json:"target"`
	Mask    int    `json:"mask"`
	Nexthop string `json:"nexthop"`
	Source  string `json:"source"`
}

// render builds iface's status. An up interface without a gateway gets a
// device default route (nexthop 0.0.0.0), as a point-to-point link has.
// Names, devices and gateways netifd.Parse would refuse are refused here,
// so that a test's mistake shows at its source.
func render(name string, iface netifd.Interface) (status, error) {
	if !netifd.ValidName(name) {
		return status{}, fmt.Errorf("netifdtest: invalid interface name %q", name)
	}
	if iface.Device != "" && !config.ValidDevice(iface.Device) {
		return status{}, fmt.Errorf("netifdtest: interface '%s': invalid device %q", name, iface.Device)
	}
	if iface.Gateway.IsValid() && !iface.Gateway.Is4() {
		return status{}, fmt.Errorf("netifdtest: interface '%s': gateway %s is not IPv4", name, iface.Gateway)
	}
	if iface.Gateway6.IsValid() && (!iface.Gateway6.Is6() || iface.Gateway6.Zone() != "") {
		return status{}, fmt.Errorf("netifdtest: interface '%s': gateway6 %s is not IPv6 without a zone", name, iface.Gateway6)
	}
	s := status{Up: iface.Up, Available: true, Autostart: true, Proto: iface.Proto}
	if !iface.Up {
		return s, nil
	}
	uptime := 60
	s.Uptime = &uptime
	s.L3Device = iface.Device
	s.Device = iface.Device
	up := &upKeys{
		IPv4Address: []any{}, IPv6Address: []any{}, IPv6Prefix: []any{}, IPv6Assign: []any{},
		Route: []route{}, DNSServer: []string{}, DNSSearch: []any{}, Neighbors: []any{},
		Inactive: map[string]any{
			"ipv4-address": []any{}, "ipv6-address": []any{}, "route": []any{},
			"dns-server": []any{}, "dns-search": []any{}, "neighbors": []any{},
		},
	}
	switch {
	case iface.Gateway.IsValid():
		up.Route = append(up.Route, route{Target: "0.0.0.0", Nexthop: iface.Gateway.String(), Source: "0.0.0.0/0"})
	case iface.Device != "":
		up.Route = append(up.Route, route{Target: "0.0.0.0", Nexthop: "0.0.0.0", Source: "0.0.0.0/0"})
	}
	switch {
	case iface.Gateway6.IsValid():
		up.Route = append(up.Route, route{Target: "::", Nexthop: iface.Gateway6.String(), Source: "::/0"})
	case iface.Default6:
		up.Route = append(up.Route, route{Target: "::", Nexthop: "::", Source: "::/0"})
	}
	for _, a := range iface.Addrs6 {
		up.IPv6Address = append(up.IPv6Address, map[string]any{"address": a.Addr().String(), "mask": a.Bits()})
	}
	for _, d := range iface.DNS {
		up.DNSServer = append(up.DNSServer, d.String())
	}
	for _, a := range iface.Addrs {
		up.IPv4Address = append(up.IPv4Address, map[string]any{"address": a.Addr().String(), "mask": a.Bits()})
	}
	s.upKeys = up
	return s, nil
}

// StatusJSON renders iface the way `ubus call network.interface.<name>
// status` prints it (tab-indented, as the ubus CLI does).
func StatusJSON(iface netifd.Interface) ([]byte, error) {
	s, err := render(iface.Name, iface)
	if err != nil {
		return nil, err
	}
	return encode(s)
}

// DumpJSON renders the `network.interface dump` reply for the interfaces
// (keyed by name; an Interface's own Name is ignored), in name order.
func DumpJSON(ifaces map[string]netifd.Interface) ([]byte, error) {
	names := make([]string, 0, len(ifaces))
	for name := range ifaces {
		names = append(names, name)
	}
	sort.Strings(names)
	dump := struct {
		Interface []status `json:"interface"`
	}{Interface: []status{}}
	for _, name := range names {
		s, err := render(name, ifaces[name])
		if err != nil {
			return nil, err
		}
		s.Interface = name
		dump.Interface = append(dump.Interface, s)
	}
	return encode(dump)
}

func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "\t")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("netifdtest: %w", err)
	}
	return b.Bytes(), nil
}

// Serve publishes ifaces on the kit's ubusd for network namespace ns (see
// openwrttest.Tools.Netifd; calling it again replaces them) and returns
// the directory its clients see as /run.
func Serve(t testing.TB, ow *openwrttest.Tools, ns string, ifaces map[string]netifd.Interface) string {
	t.Helper()
	dump, err := DumpJSON(ifaces)
	if err != nil {
		t.Fatal(err)
	}
	return ow.Netifd(t, ns, dump)
}
