// Package netifd asks OpenWrt's netifd (over ubus, with package ubus: no
// process is started) for a logical interface's state: its L3 device,
// default gateway (IPv4 and IPv6), whether it is up, and the DNS servers it
// learned.
//
// The reply read here is what netifd's netifd_dump_status (ubus.c) answers
// to `network.interface.<name> status`: "up", "pending", "available",
// "autostart", "dynamic", then, only while the interface is up, "uptime" and
// "l3_device"; "proto" and "device" when known; while up, "metric",
// "ipv4-address", "ipv6-address", "route", "dns-server", "dns-search" and
// "inactive" (the same lists for things netifd holds but has not applied);
// always "data". A route is {"target", "mask", "nexthop", "source"} plus
// "metric", "table", "mtu", "type" and "valid" when set. Parse reads it as
// the ubus CLI prints it (JSON); Client.Status gets it from ubusd natively.
package netifd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/ubus"
	"github.com/wanlb/wanlb/internal/uciconf"
)

// Interface is what wanlb needs to know about one netifd logical interface.
type Interface struct {
	Name  string
	Up    bool
	Proto string // "proto": dhcp, static, pppoe, qmi, ...; "" when netifd has no handler
	// Device is "l3_device", the device traffic leaves by (pppoe-wan for
	// PPPoE on eth1). netifd prints it only while the interface is up.
	Device string
	// Gateway is the nexthop of the IPv4 default route (target 0.0.0.0,
	// mask 0). It is invalid when there is none, or when the route is a
	// device route (nexthop 0.0.0.0, as on point-to-point links).
	Gateway netip.Addr
	// DNS are "dns-server": IPv4 and global IPv6 addresses (a link-local
	// resolver would need its zone, which netifd does not print).
	DNS []netip.Addr
	// Addrs are "ipv4-address" (address and mask): the web UI listens on
	// them for a `ui.listen` of the form <interface>:<port>.
	Addrs []netip.Prefix
	// Default6 reports an IPv6 default route (target ::, mask 0), active or
	// inactive; Gateway6 is its nexthop, invalid for a device route. On
	// OpenWrt the IPv6 side of an uplink is usually its own interface
	// (wan6), with a link-local nexthop from router advertisements.
	Default6 bool
	Gateway6 netip.Addr
	// Addrs6 are "ipv6-address": the addresses the interface holds.
	Addrs6 []netip.Prefix
}

// ErrNotFound is returned (wrapped) by Client.Status when netifd has no
// interface of that name: ubusd knows no object network.interface.<name>.
var ErrNotFound = errors.New("no such netifd interface")

// DefaultTimeout bounds one Client.Status when Client.Timeout is not set;
// the ubus CLI would wait 30 s.
const DefaultTimeout = 3 * time.Second

// maxReply caps one message from ubusd: a status is a few kilobytes (more
// with many IPv6 prefixes), and a broken or hostile peer must not make the
// daemon hold a megabyte per lookup.
const maxReply = 256 << 10

// Client asks netifd over ubusd's socket. The zero value is ready to use.
type Client struct {
	Socket  string        // ubusd's socket; "" is ubus.DefaultSocket
	Timeout time.Duration // default DefaultTimeout
}

// Available reports whether ubusd's socket (socket, or ubus.DefaultSocket
// when empty) exists: whether there is a netifd to ask on this machine at
// all (an OpenWrt router), as opposed to one that does not answer now.
func Available(socket string) bool {
	if socket == "" {
		socket = ubus.DefaultSocket
	}
	fi, err := os.Stat(socket)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// ValidName reports whether name may be asked for: a netifd interface is a
// UCI section of /etc/config/network (or a dynamic one such as wan_6), so
// [A-Za-z0-9_]+. Anything else is refused before ubusd is asked.
func ValidName(name string) bool { return uciconf.ValidName(name) }

// Status asks netifd for `network.interface.<name> status` and parses the
// answer. An unknown interface gives an error wrapping ErrNotFound; a
// ubusd or netifd that does not answer within the timeout gives one
// wrapping context.DeadlineExceeded; a ubusd that is not running, one
// wrapping ubus.ErrConnect.
func (c Client) Status(ctx context.Context, name string) (Interface, error) {
	if !ValidName(name) {
		return Interface{}, fmt.Errorf("netifd: invalid interface name %q: must be letters, digits and _", name)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// Whose deadline ends the call decides the error: the caller's is
	// theirs to report; ours says netifd did not answer.
	deadline := time.Now().Add(timeout)
	ours := true
	if d, ok := ctx.Deadline(); ok && !deadline.Before(d) {
		ours = false
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	object := "network.interface." + name
	what := object + " status"
	bus := ubus.Client{Socket: c.Socket, Timeout: timeout, MaxReply: maxReply}
	reply, err := bus.Call(ctx, object, "status", nil)
	switch {
	case err == nil:
	case errors.Is(err, ubus.StatusNotFound):
		return Interface{}, fmt.Errorf("netifd: %s: %w (%w)", what, ErrNotFound, err)
	case errors.Is(err, context.DeadlineExceeded) && ours:
		return Interface{}, fmt.Errorf("netifd: %s: no answer within %v: %w", what, timeout, err)
	default:
		return Interface{}, fmt.Errorf("netifd: %s: %w", what, err)
	}
	// The reply decodes as the ubus CLI prints it; Parse reads that JSON,
	// so the CLI's output (testdata) and the native path share one parser.
	js, err := json.Marshal(reply)
	if err != nil {
		return Interface{}, fmt.Errorf("netifd: %s: %w", what, err)
	}
	iface, err := Parse(name, js)
	if err != nil {
		return Interface{}, fmt.Errorf("netifd: %s: %w", what, err)
	}
	return iface, nil
}

// status holds the keys of netifd's status that Parse reads; the others
// (addresses, prefixes, data, errors, ...) are left alone so that new netifd
// versions and proto handlers cannot break the parse.
type status struct {
	Up       *bool    `json:"up"`
	L3Device string   `json:"l3_device"`
	Proto    string   `json:"proto"`
	Route    []route  `json:"route"`
	DNS      []string `json:"dns-server"`
	IPv4     []addr   `json:"ipv4-address"`
	IPv6     []addr   `json:"ipv6-address"`
	Inactive struct {
		Route []route `json:"route"`
	} `json:"inactive"`
}

type addr struct {
	Address string `json:"address"`
	Mask    int    `json:"mask"`
}

type route struct {
	Target  string `json:"target"`
	Mask    int    `json:"mask"`
	Nexthop string `json:"nexthop"`
	Metric  *int   `json:"metric"`
}

// Parse turns the JSON of `ubus call network.interface.<name> status` into
// an Interface. It fails on output that is not a netifd status, and on a
// device name or gateway wanlb could not safely use.
func Parse(name string, statusJSON []byte) (Interface, error) {
	var s status
	dec := json.NewDecoder(bytes.NewReader(statusJSON))
	if err := dec.Decode(&s); err != nil {
		return Interface{}, fmt.Errorf("parsing interface '%s' status: %w", name, err)
	}
	if s.Up == nil {
		return Interface{}, fmt.Errorf("parsing interface '%s' status: no \"up\" key, not a netifd interface status", name)
	}
	iface := Interface{Name: name, Up: *s.Up, Proto: s.Proto, Device: s.L3Device}
	if iface.Device != "" && !config.ValidDevice(iface.Device) {
		// The device ends up in ip rules and iptables arguments.
		return Interface{}, fmt.Errorf("interface '%s': l3_device '%s' is not a device name wanlb accepts", name, iface.Device)
	}
	gw, found, err := defaultGateway(s.Route)
	if err == nil && !found {
		// With `option defaultroute '0'` (usual on a multi-WAN router, so
		// the main table keeps one default route) netifd does not install
		// the default route but still shows it under "inactive": its
		// nexthop is still this WAN's gateway.
		gw, _, err = defaultGateway(s.Inactive.Route)
	}
	if err != nil {
		return Interface{}, fmt.Errorf("interface '%s': %w", name, err)
	}
	iface.Gateway = gw
	gw6, found6, err := defaultRoute(s.Route, false)
	if err == nil && !found6 {
		gw6, found6, err = defaultRoute(s.Inactive.Route, false)
	}
	if err != nil {
		return Interface{}, fmt.Errorf("interface '%s': %w", name, err)
	}
	iface.Default6, iface.Gateway6 = found6, gw6
	for _, d := range s.DNS {
		// netifd prints these with inet_ntop, so anything unparsable is a
		// stand-in's mistake; DNS servers are not worth failing a WAN for.
		a, err := netip.ParseAddr(d)
		if err != nil || a.Zone() != "" || a.Is4In6() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
			continue
		}
		iface.DNS = append(iface.DNS, a)
	}
	for _, a := range s.IPv4 {
		if addr, err := netip.ParseAddr(a.Address); err == nil && addr.Is4() && a.Mask >= 0 && a.Mask <= 32 {
			iface.Addrs = append(iface.Addrs, netip.PrefixFrom(addr, a.Mask))
		}
	}
	for _, a := range s.IPv6 {
		if addr, err := netip.ParseAddr(a.Address); err == nil && addr.Is6() && addr.Zone() == "" && a.Mask >= 0 && a.Mask <= 128 {
			iface.Addrs6 = append(iface.Addrs6, netip.PrefixFrom(addr, a.Mask))
		}
	}
	return iface, nil
}

// defaultGateway finds the IPv4 default route with the lowest metric (the
// first among equals, as the kernel picks) and returns its nexthop, which is
// invalid for a device route. found reports whether there was such a route.
func defaultGateway(routes []route) (gw netip.Addr, found bool, err error) {
	return defaultRoute(routes, true)
}

// defaultRoute is defaultGateway for either family: the default route
// (0.0.0.0/0 or ::/0) with the lowest metric, and its nexthop.
func defaultRoute(routes []route, v4 bool) (gw netip.Addr, found bool, err error) {
	best := -1
	bestMetric := 0
	for i, r := range routes {
		target, err := netip.ParseAddr(r.Target)
		if err != nil || target.Is4() != v4 || !target.IsUnspecified() || r.Mask != 0 {
			continue // the other family, and anything that is not a default route
		}
		m := 0
		if r.Metric != nil {
			m = *r.Metric
		}
		if best < 0 || m < bestMetric {
			best, bestMetric = i, m
		}
	}
	if best < 0 {
		return netip.Addr{}, false, nil
	}
	nh := routes[best].Nexthop
	a, err := netip.ParseAddr(nh)
	if err != nil || a.Is4() != v4 || a.Zone() != "" {
		fam := "IPv4"
		if !v4 {
			fam = "IPv6"
		}
		return netip.Addr{}, true, fmt.Errorf("default route nexthop '%s' is not an %s address", nh, fam)
	}
	if a.IsUnspecified() {
		return netip.Addr{}, true, nil // point-to-point: a device route
	}
	return a, true, nil
}
