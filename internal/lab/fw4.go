package lab

// OpenWrt's firewall4 in the router: with Options.FW4 the router is a stock
// OpenWrt box whose firewall (lan and wan zones, masquerade on every WAN) is
// the real fw4 in `table inet fw4`, loaded before anything else runs there,
// instead of the lab's own iptables masquerade.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FW4Runner runs OpenWrt's fw4 command in a network namespace with confDir
// as its /etc/config. The lab package does not know how fw4 is installed;
// tests give it one backed by the openwrt-tools kit (ow_fw4_up, ow_fw4).
type FW4Runner interface {
	// Up starts fw4 in ns, or reloads it when it is running, and fails
	// unless `table inet fw4` is loaded afterwards.
	Up(ns, confDir string) error
	// Run runs `fw4 args...` in ns and returns its combined output.
	Run(ns, confDir string, args ...string) (string, error)
}

// fw4PortForward is one redirect the lab added with PortForward.
type fw4PortForward struct {
	isp  ISP
	port int
}

// fw4Network is the router's /etc/config/network: lan on lan0, one static
// interface wan<k> per ISP with its gateway, metrics as the lab's main
// table has them. fw4 maps the zones' networks to these devices.
func fw4Network(isps []ISP) string {
	var b strings.Builder
	b.WriteString("config interface 'loopback'\n\toption device 'lo'\n\toption proto 'static'\n" +
		"\toption ipaddr '127.0.0.1'\n\toption netmask '255.0.0.0'\n\n")
	fmt.Fprintf(&b, "config interface 'lan'\n\toption device 'lan0'\n\toption proto 'static'\n"+
		"\toption ipaddr '%s'\n\toption netmask '255.255.255.0'\n\n", routerLANAddr)
	for _, isp := range isps {
		fmt.Fprintf(&b, "config interface '%s'\n\toption device '%s'\n\toption proto 'static'\n"+
			"\toption ipaddr '%s'\n\toption netmask '255.255.255.0'\n\toption gateway '%s'\n\toption metric '%d'\n\n",
			isp.RouterDev, isp.RouterDev, isp.RouterAddr, isp.Gateway, 10*isp.Index)
	}
	return b.String()
}

// fw4Firewall is the router's /etc/config/firewall: OpenWrt's shipped
// defaults, zones, forwarding and rules, with every WAN interface in the
// wan zone, flow offloading off (some kernels lack flowtables), plus one
// redirect per port forward.
func fw4Firewall(isps []ISP, forwards []fw4PortForward, masq6 bool) string {
	var b strings.Builder
	b.WriteString("config defaults\n\toption syn_flood '1'\n\toption input 'REJECT'\n\toption output 'ACCEPT'\n" +
		"\toption forward 'REJECT'\n\toption flow_offloading '0'\n\n")
	b.WriteString("config zone\n\toption name 'lan'\n\tlist network 'lan'\n\toption input 'ACCEPT'\n" +
		"\toption output 'ACCEPT'\n\toption forward 'ACCEPT'\n\n")
	b.WriteString("config zone\n\toption name 'wan'\n")
	for _, isp := range isps {
		fmt.Fprintf(&b, "\tlist network '%s'\n", isp.RouterDev)
	}
	b.WriteString("\toption input 'REJECT'\n\toption output 'ACCEPT'\n\toption forward 'REJECT'\n" +
		"\toption masq '1'\n\toption mtu_fix '1'\n")
	if masq6 {
		// IPv6 translated like IPv4 (wanlb's ipv6_mode 'translated').
		b.WriteString("\toption masq6 '1'\n")
	}
	b.WriteString("\n")
	b.WriteString("config forwarding\n\toption src 'lan'\n\toption dest 'wan'\n\n")
	b.WriteString(fw4StockRules)
	for _, f := range forwards {
		// src_dip limits the redirect to connections sent to this WAN's
		// address, like the lab's iptables rule limited to its device.
		fmt.Fprintf(&b, "config redirect\n\toption name 'lab-%s-%d'\n\toption src 'wan'\n\toption proto 'tcp'\n"+
			"\toption src_dip '%s'\n\toption src_dport '%d'\n\toption dest 'lan'\n\toption dest_ip '%s'\n\toption dest_port '%d'\n\n",
			f.isp.RouterDev, f.port, f.isp.RouterAddr, f.port, clientAddr, f.port)
	}
	return b.String()
}

// fw4StockRules are the rules OpenWrt ships in /etc/config/firewall.
const fw4StockRules = `config rule
	option name 'Allow-DHCP-Renew'
	option src 'wan'
	option proto 'udp'
	option dest_port '68'
	option target 'ACCEPT'
	option family 'ipv4'

config rule
	option name 'Allow-Ping'
	option src 'wan'
	option proto 'icmp'
	option icmp_type 'echo-request'
	option family 'ipv4'
	option target 'ACCEPT'

config rule
	option name 'Allow-IGMP'
	option src 'wan'
	option proto 'igmp'
	option family 'ipv4'
	option target 'ACCEPT'

config rule
	option name 'Allow-DHCPv6'
	option src 'wan'
	option proto 'udp'
	option dest_port '546'
	option family 'ipv6'
	option target 'ACCEPT'

config rule
	option name 'Allow-MLD'
	option src 'wan'
	option proto 'icmp'
	option src_ip 'fe80::/10'
	list icmp_type '130/0'
	list icmp_type '131/0'
	list icmp_type '132/0'
	list icmp_type '143/0'
	option family 'ipv6'
	option target 'ACCEPT'

config rule
	option name 'Allow-ICMPv6-Input'
	option src 'wan'
	option proto 'icmp'
	list icmp_type 'echo-request'
	list icmp_type 'echo-reply'
	list icmp_type 'destination-unreachable'
	list icmp_type 'packet-too-big'
	list icmp_type 'time-exceeded'
	list icmp_type 'bad-header'
	list icmp_type 'unknown-header-type'
	list icmp_type 'router-solicitation'
	list icmp_type 'neighbour-solicitation'
	list icmp_type 'router-advertisement'
	list icmp_type 'neighbour-advertisement'
	option limit '1000/sec'
	option family 'ipv6'
	option target 'ACCEPT'

config rule
	option name 'Allow-ICMPv6-Forward'
	option src 'wan'
	option dest '*'
	option proto 'icmp'
	list icmp_type 'echo-request'
	list icmp_type 'echo-reply'
	list icmp_type 'destination-unreachable'
	list icmp_type 'packet-too-big'
	list icmp_type 'time-exceeded'
	list icmp_type 'bad-header'
	list icmp_type 'unknown-header-type'
	option limit '1000/sec'
	option family 'ipv6'
	option target 'ACCEPT'

config rule
	option name 'Allow-IPSec-ESP'
	option src 'wan'
	option dest 'lan'
	option proto 'esp'
	option target 'ACCEPT'

config rule
	option name 'Allow-ISAKMP'
	option src 'wan'
	option dest 'lan'
	option dest_port '500'
	option proto 'udp'
	option target 'ACCEPT'

`

// startFW4 writes the router's firewall and network config into a fresh
// directory and starts fw4 with it.
func (l *Lab) startFW4() error {
	dir, err := os.MkdirTemp("", "wanlb-lab-fw4-")
	if err != nil {
		return fmt.Errorf("lab: fw4 config directory: %w", err)
	}
	l.mu.Lock()
	l.fw4Dir = dir
	l.mu.Unlock()
	if err := l.writeFW4Config(); err != nil {
		return err
	}
	if err := l.opts.FW4.Up(l.Router, dir); err != nil {
		return fmt.Errorf("lab: start fw4 in %s: %w", l.Router, err)
	}
	return nil
}

// writeFW4Config (re)writes the router's firewall and network files.
func (l *Lab) writeFW4Config() error {
	l.mu.Lock()
	dir, forwards := l.fw4Dir, l.fw4Forwards
	l.mu.Unlock()
	files := map[string]string{
		"network":  fw4Network(l.ISPs),
		"firewall": fw4Firewall(l.ISPs, forwards, l.opts.IPv6 && !l.opts.IPv6Routed),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return fmt.Errorf("lab: write fw4 config: %w", err)
		}
	}
	return nil
}

// errNoFW4 is returned by the FW4 methods of a lab built without it.
var errNoFW4 = errors.New("lab: the router runs no fw4 (Options.FW4 is nil)")

// FW4 runs `fw4 args...` in the router (reload, restart, flush, start,
// stop, print ...) and returns its output. Note that `fw4 start` and
// `reload` exit 0 even when nft rejects the ruleset; FW4Up checks.
func (l *Lab) FW4(args ...string) (string, error) {
	if l.opts.FW4 == nil {
		return "", errNoFW4
	}
	out, err := l.opts.FW4.Run(l.Router, l.FW4ConfigDir(), args...)
	if err != nil {
		return out, fmt.Errorf("lab: fw4 %s in %s: %w", strings.Join(args, " "), l.Router, err)
	}
	return out, nil
}

// FW4Up starts fw4 in the router, or reloads it when it is running, as
// `/etc/init.d/firewall start` or `reload` would, and checks that `table
// inet fw4` is loaded afterwards.
func (l *Lab) FW4Up() error {
	if l.opts.FW4 == nil {
		return errNoFW4
	}
	if err := l.opts.FW4.Up(l.Router, l.FW4ConfigDir()); err != nil {
		return fmt.Errorf("lab: fw4 up in %s: %w", l.Router, err)
	}
	return nil
}

// FW4Runner is the runner the lab was built with (Options.FW4), or nil:
// tests reach the same fw4 installation (and its ubusd) through it.
func (l *Lab) FW4Runner() FW4Runner { return l.opts.FW4 }

// FW4ConfigDir is the router's /etc/config as fw4 sees it (files firewall
// and network), or "" without Options.FW4.
func (l *Lab) FW4ConfigDir() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fw4Dir
}

// fw4PortForward adds a redirect for connections to isp's WAN address on
// port to the router's fw4 config and reloads fw4. Repeated calls are
// no-ops.
func (l *Lab) fw4PortForward(isp ISP, port int) error {
	l.mu.Lock()
	for _, f := range l.fw4Forwards {
		if f.isp.Index == isp.Index && f.port == port {
			l.mu.Unlock()
			return nil
		}
	}
	l.fw4Forwards = append(l.fw4Forwards, fw4PortForward{isp: isp, port: port})
	l.mu.Unlock()
	if err := l.writeFW4Config(); err != nil {
		return err
	}
	return l.FW4Up()
}

// removeFW4Dir deletes the config directory startFW4 made.
func (l *Lab) removeFW4Dir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("lab: remove fw4 config: %w", err)
	}
	return nil
}

// IsXtablesTable reports whether an nftables table is one iptables-nft
// creates: families ip/ip6 (and arp/bridge for arptables/ebtables) with
// the legacy table names.
func IsXtablesTable(family, name string) bool {
	switch family {
	case "ip", "ip6", "arp", "bridge":
	default:
		return false
	}
	switch name {
	case "filter", "mangle", "nat", "raw", "security", "broute":
		return true
	}
	return false
}

// XtablesTables lists the tables in ns that iptables-nft (or arptables/
// ebtables-nft) created, as "family name", from `nft list tables`.
func (l *Lab) XtablesTables(ns string) ([]string, error) {
	out, err := l.Exec(ns, "nft", "list", "tables")
	if err != nil {
		return nil, err
	}
	var found []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "table" && IsXtablesTable(f[1], f[2]) {
			found = append(found, f[1]+" "+f[2])
		}
	}
	return found, nil
}
