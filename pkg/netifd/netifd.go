// Package netifd asks OpenWrt's netifd (through the ubus CLI) for a logical interface's state: its L3 device, default gateway, whether it is up, and the DNS servers it learned.
//
// The JSON read here is what netifd's netifd_dump_status (ubus.c) prints for
// `ubus call network.interface.<name> status`: "up", "pending", "available",
// "autostart", "dynamic", then, only while the interface is up, "uptime" and
// "l3_device"; "proto" and "device" when known; while up, "metric",
// "ipv4-address", "ipv6-address", "route", "dns-server", "dns-search" and
// "inactive" (the same lists for things netifd holds but has not applied);
// always "data". A route is {"target", "mask", "nexthop", "source"} plus
// "metric", "table", "mtu", "type" and "valid" when set.
package netifd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/wanlb/wanlb/pkg/config"
	"github.com/wanlb/wanlb/pkg/uciconf"
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
	DNS     []netip.Addr // "dns-server", IPv4 ones only (for now)
	// Addrs are "ipv4-address" (address and mask): the web UI listens on
	// them for a `ui.listen` of the form <interface>:<port>.
	Addrs []netip.Prefix
}

// ErrNotFound is returned (wrapped) by Client.Status when netifd has no
// interface of that name: ubus exits 4, UBUS_STATUS_NOT_FOUND.
var ErrNotFound = errors.New("no such netifd interface")

// Defaults of Client.
const (
	DefaultUbusPath = "ubus"
	DefaultTimeout  = 3 * time.Second
)

// ubusNotFound is UBUS_STATUS_NOT_FOUND, which the ubus CLI returns as its
// exit code (after printing "Command failed: Not found") when the object
// does not exist.
const ubusNotFound = 4

// maxOutput bounds what is read from ubus: a status is a few kilobytes, and
// a broken or hostile stand-in must not make the daemon hold megabytes.
const maxOutput = 1 << 20

// Client runs the ubus CLI. The zero value is ready to use.
type Client struct {
	UbusPath string        // default "ubus", looked up on PATH
	Timeout  time.Duration // default 3s; ubus itself would wait 30s
}

// ValidName reports whether name may be asked for: a netifd interface is a
// UCI section of /etc/config/network (or a dynamic one such as wan_6), so
// [A-Za-z0-9_]+. Anything else is refused before a command is built.
func ValidName(name string) bool { return uciconf.ValidName(name) }

// Status runs `ubus call network.interface.<name> status` and parses the
// answer. An unknown interface gives an error wrapping ErrNotFound; a ubus
// that does not answer within the timeout is killed (with any children) and
// the error wraps context.DeadlineExceeded.
func (c Client) Status(ctx context.Context, name string) (Interface, error) {
	if !ValidName(name) {
		return Interface{}, fmt.Errorf("netifd: invalid interface name %q: must be letters, digits and _", name)
	}
	path := c.UbusPath
	if path == "" {
		path = DefaultUbusPath
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()

	object := "network.interface." + name
	what := "ubus call " + object + " status"
	cmd := exec.CommandContext(ctx, path, "call", object, "status")
	// Its own process group, so that a timeout kills a wrapper script's
	// children too; WaitDelay so that a child still holding our pipes
	// cannot keep Wait (and the daemon) blocked.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group may be gone already: killing the leader is enough then.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return cmd.Process.Kill()
	}
	cmd.WaitDelay = 500 * time.Millisecond
	stdout := &capped{max: maxOutput}
	stderr := &capped{max: 4096}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		if parent.Err() != nil {
			return Interface{}, fmt.Errorf("netifd: %s: %w", what, parent.Err())
		}
		return Interface{}, fmt.Errorf("netifd: %s: no answer within %v: %w", what, timeout, ctx.Err())
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.buf.String())
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && exitErr.ExitCode() == ubusNotFound {
			return Interface{}, fmt.Errorf("netifd: %s: %w (%s)", what, ErrNotFound, orDefault(msg, "exit status 4"))
		}
		if msg != "" {
			return Interface{}, fmt.Errorf("netifd: %s: %w: %s", what, err, msg)
		}
		return Interface{}, fmt.Errorf("netifd: %s: %w", what, err)
	}
	if stdout.overflow {
		return Interface{}, fmt.Errorf("netifd: %s: answer longer than %d bytes", what, maxOutput)
	}
	iface, err := Parse(name, stdout.buf.Bytes())
	if err != nil {
		return Interface{}, fmt.Errorf("netifd: %s: %w", what, err)
	}
	return iface, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// capped is a buffer that keeps at most max bytes and remembers whether it
// dropped any; it never fails a write, so the child is never blocked. (It
// wraps rather than embeds bytes.Buffer: io.Copy would use the embedded
// ReadFrom and bypass the cap.)
type capped struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room < len(p) {
		c.overflow = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
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
	IPv4     []struct {
		Address string `json:"address"`
		Mask    int    `json:"mask"`
	} `json:"ipv4-address"`
	Inactive struct {
		Route []route `json:"route"`
	} `json:"inactive"`
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
	for _, d := range s.DNS {
		// netifd prints these with inet_ntop, so anything unparsable is a
		// stand-in's mistake; DNS servers are not worth failing a WAN for.
		a, err := netip.ParseAddr(d)
		if err != nil || !a.Is4() {
			continue
		}
		iface.DNS = append(iface.DNS, a)
	}
	for _, a := range s.IPv4 {
		if addr, err := netip.ParseAddr(a.Address); err == nil && addr.Is4() && a.Mask >= 0 && a.Mask <= 32 {
			iface.Addrs = append(iface.Addrs, netip.PrefixFrom(addr, a.Mask))
		}
	}
	return iface, nil
}

// defaultGateway finds the IPv4 default route with the lowest metric (the
// first among equals, as the kernel picks) and returns its nexthop, which is
// invalid for a device route. found reports whether there was such a route.
func defaultGateway(routes []route) (gw netip.Addr, found bool, err error) {
	best := -1
	bestMetric := 0
	for i, r := range routes {
		target, err := netip.ParseAddr(r.Target)
		if err != nil || !target.Is4() || !target.IsUnspecified() || r.Mask != 0 {
			continue // IPv6 routes and anything else that is not 0.0.0.0/0
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
	if err != nil || !a.Is4() {
		return netip.Addr{}, true, fmt.Errorf("default route nexthop '%s' is not an IPv4 address", nh)
	}
	if a.IsUnspecified() {
		return netip.Addr{}, true, nil // point-to-point: a device route
	}
	return a, true, nil
}
