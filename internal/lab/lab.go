// Package lab builds network-namespace test labs: a LAN client, a router, one
// ISP per WAN and an "internet" with servers, all on 198.18.0.0/15, with
// fault injection and complete teardown.
//
// Topology for N ISPs (k = 1..N):
//
//	client  lan0 198.18.1.2/24 ── lan0 198.18.1.1/24  router
//	router  wan<k> 198.18.(10+k).2/24 ── r0 198.18.(10+k).1/24  isp<k>
//	isp<k>  i0 198.18.(20+k).2/24 ── isp<k> 198.18.(20+k).1/24  internet
//	internet lo 198.18.100.1/32 (whoami :80, slow whoami :81, UDP echo :7)
//	optional: router ts0 198.19.52.1/30 ── ts0 198.19.52.2/30 vpn (lo 198.19.53.1)
//
// The router looks like a stock OpenWrt box before wanlb runs: one main-table
// default route per WAN with increasing metrics, masquerade on every WAN
// (iptables, or OpenWrt's fw4 with Options.FW4), strict rp_filter, and no
// mangle rules or ip rules (except Tailscale's table 52 rule when the VPN
// is enabled). Each ISP masquerades toward the
// internet, so the server sees ISP k as 198.18.(20+k).2.
//
// Nothing is ever configured in the host namespace: veth pairs are created
// with both ends directly inside lab namespaces.
package lab

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netns"
)

// Well-known lab addresses. All of them lie in 198.18.0.0/15 (RFC 2544
// benchmarking space), which never leaves the lab.
var (
	clientAddr    = netip.MustParseAddr("198.18.1.2")
	routerLANAddr = netip.MustParseAddr("198.18.1.1")
	serverAddr    = netip.MustParseAddr("198.18.100.1")
	vpnServerAddr = netip.MustParseAddr("198.19.53.1")
)

const (
	// MaxISPs bounds Options.ISPs: WAN subnets are 198.18.(10+k) and ISP
	// uplinks 198.18.(20+k), so k must stay below 10 to keep them disjoint.
	MaxISPs = 9
	// DefaultSlowDelay is used when Options.SlowDelay is zero.
	DefaultSlowDelay = 2 * time.Second
	// VPNTable and VPNRulePref mirror what Tailscale installs on a router.
	VPNTable    = 52
	VPNRulePref = 5270
	// FaultChain is the filter chain in every ISP namespace that holds the
	// loss/blackhole rules, jumped to from FORWARD, so Heal is one flush.
	FaultChain = "lab_fault"
)

// labCounter makes namespace names unique among labs of one process; the
// pid in the name makes them unique among processes.
var labCounter atomic.Int64

// Options configures New. The zero value gives a 3-ISP lab without VPN.
type Options struct {
	// ISPs is the number of WANs/ISPs, 1..MaxISPs; 0 means 3.
	ISPs int
	// VPN adds a "vpn" namespace reachable from the router through ts0 and
	// routed via policy table 52, like a Tailscale subnet router.
	VPN bool
	// SlowDelay is how long the slow server on port 81 waits before
	// answering; 0 means DefaultSlowDelay.
	SlowDelay time.Duration
	// ConnectTimeout bounds each whoami exchange (connect and answer) of
	// Whoami, WhoamiAt and CountISPs, so a blackholed path costs seconds,
	// not the kernel's minutes of SYN retries; 0 means
	// DefaultConnectTimeout. Lab RTTs are microseconds, so tests that expect
	// many failures may lower it (a SYN is retransmitted after 1s).
	ConnectTimeout time.Duration
	// Prefix, when set, replaces the per-process prefix "wlb<pid>x<n>-" of
	// the namespace names with a fixed one, so that another process can
	// find the lab with Attach. It must match [a-z][a-z0-9]*- and must not
	// start with "wlb" and a digit. Only one lab can own a fixed prefix, so
	// New first removes every namespace whose name starts with it, and the
	// processes inside: leftovers of a lab that was never closed.
	Prefix string
	// FW4, when set, makes the router a stock OpenWrt box firewalled by
	// OpenWrt's real fw4 (table inet fw4: lan and wan zones, masquerade and
	// MSS clamping on every WAN, shipped defaults and rules), started
	// through FW4 before New returns, instead of the lab's iptables
	// masquerade: the lab then adds no iptables rule in the router.
	// PortForward adds fw4 redirects. See FW4, FW4Up and FW4ConfigDir.
	FW4 FW4Runner
	// IPv6 dual-stacks the lab (see ipv6.go): 2001:db8::/32 on the ISP
	// side, a ULA on the LAN, and masquerade6 in the router (fw4's masq6
	// with FW4).
	IPv6 bool
	// IPv6Routed makes the IPv6 of an IPv6 lab routed instead: no
	// masquerade6 in the router; ISP k routes the LAN prefix
	// 2001:db8:(30+k)::/64 to it and forwards only that prefix and its WAN
	// link (ingress filtering, as ISPs do), the client holds an address
	// from each prefix, and the router has a source-specific default route
	// per prefix (as netifd installs for delegated prefixes).
	IPv6Routed bool
}

// fixedPrefix is what Options.Prefix must look like; autoPrefix refuses
// those that could be the start of New's per-process names.
var (
	fixedPrefix = regexp.MustCompile(`^[a-z][a-z0-9]*-$`)
	autoPrefix  = regexp.MustCompile(`^wlb[0-9]`)
)

// ISP describes one upstream provider and the router WAN facing it.
type ISP struct {
	// Index is k, 1-based.
	Index int
	// NS is the ISP's namespace name.
	NS string
	// RouterDev is the router's interface toward this ISP, "wan<k>".
	RouterDev string
	// Gateway is the ISP's address on the WAN link, 198.18.(10+k).1.
	Gateway netip.Addr
	// RouterAddr is the router's address on the WAN link, 198.18.(10+k).2.
	RouterAddr netip.Addr
	// PublicAddr is the address the internet sees for traffic through this
	// ISP, 198.18.(20+k).2.
	PublicAddr netip.Addr
	// InternetAddr is the internet's side of the ISP uplink, 198.18.(20+k).1.
	InternetAddr netip.Addr
}

// Lab is a running set of namespaces. Create it with New and always Close it.
type Lab struct {
	// Client, Router, Internet and VPN are namespace names for Do and Exec.
	// VPN is empty unless Options.VPN was set.
	Client, Router, Internet, VPN string
	// ISPs holds ISP k at index k-1.
	ISPs []ISP
	// Prefix is the common prefix of all namespace names of this lab.
	Prefix string

	opts Options

	mu         sync.Mutex
	closed     bool
	namespaces []string // in creation order
	handles    map[string]netns.NsHandle
	stops      []func()
	conns      []io.Closer
	procs      []*Process
	// fw4Dir is the router's /etc/config for fw4 (Options.FW4), removed
	// by Close; fw4Forwards are the redirects PortForward added to it.
	fw4Dir      string
	fw4Forwards []fw4PortForward
}

// New builds a lab. It first removes namespaces left behind by crashed lab
// processes. If building fails halfway, everything built so far is removed.
func New(opts Options) (_ *Lab, err error) {
	if opts.ISPs == 0 {
		opts.ISPs = 3
	}
	if opts.ISPs < 1 || opts.ISPs > MaxISPs {
		return nil, fmt.Errorf("lab: Options.ISPs = %d, want 1..%d", opts.ISPs, MaxISPs)
	}
	if opts.SlowDelay == 0 {
		opts.SlowDelay = DefaultSlowDelay
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	opts.IPv6 = opts.IPv6 || opts.IPv6Routed
	prefix := opts.Prefix
	if prefix == "" {
		prefix = fmt.Sprintf("wlb%dx%d-", os.Getpid(), labCounter.Add(1))
	} else if err := checkPrefix(prefix); err != nil {
		return nil, err
	} else if err := removePrefixed(prefix); err != nil {
		return nil, err
	}
	// Best effort: a stale namespace we cannot delete does not stop this lab,
	// whose names cannot collide with it.
	_ = cleanupStale()

	l := layout(prefix, opts)
	defer func() {
		if err != nil {
			if cerr := l.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("lab: cleanup after failed New: %w", cerr))
			}
		}
	}()
	if err := l.build(); err != nil {
		return nil, err
	}
	return l, nil
}

// layout returns an unbuilt Lab: the names and addresses New would use.
func layout(prefix string, opts Options) *Lab {
	l := &Lab{
		Client:   prefix + "client",
		Router:   prefix + "router",
		Internet: prefix + "internet",
		Prefix:   prefix,
		opts:     opts,
		handles:  make(map[string]netns.NsHandle),
	}
	if opts.VPN {
		l.VPN = prefix + "vpn"
	}
	for k := 1; k <= opts.ISPs; k++ {
		l.ISPs = append(l.ISPs, ISP{
			Index:        k,
			NS:           fmt.Sprintf("%sisp%d", prefix, k),
			RouterDev:    fmt.Sprintf("wan%d", k),
			Gateway:      addr4(198, 18, byte(10+k), 1),
			RouterAddr:   addr4(198, 18, byte(10+k), 2),
			PublicAddr:   addr4(198, 18, byte(20+k), 2),
			InternetAddr: addr4(198, 18, byte(20+k), 1),
		})
	}
	return l
}

// checkPrefix validates Options.Prefix.
func checkPrefix(prefix string) error {
	if !fixedPrefix.MatchString(prefix) || autoPrefix.MatchString(prefix) {
		return fmt.Errorf("lab: Options.Prefix %q must match [a-z][a-z0-9]*- and not start with wlb and a digit", prefix)
	}
	return nil
}

// Attach returns the lab that New built in another process (or earlier in
// this one) with Options{Prefix: prefix, ISPs: isps}, without a VPN, so
// that faults (CarrierDown, Blackhole, Loss, Bandwidth, Heal), Do, Exec and
// Start work on it. Its servers belong to the lab's creator. Close only
// releases what the attached value started itself (Start, DialTCP,
// DialUDP); it never deletes a namespace. A lab built with Options.FW4 is
// attached as one without it: use its FW4 methods from the creator.
func Attach(prefix string, isps int) (*Lab, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if isps < 1 || isps > MaxISPs {
		return nil, fmt.Errorf("lab: attach: %d ISPs, want 1..%d", isps, MaxISPs)
	}
	l := layout(prefix, Options{ISPs: isps, SlowDelay: DefaultSlowDelay, ConnectTimeout: DefaultConnectTimeout})
	for _, ns := range l.allNS() {
		if _, err := os.Stat(netnsDir + "/" + ns); err != nil {
			return nil, fmt.Errorf("lab: attach to %s: namespace %s: %w", prefix, ns, err)
		}
	}
	return l, nil
}

func addr4(a, b, c, d byte) netip.Addr { return netip.AddrFrom4([4]byte{a, b, c, d}) }

// allNS lists the lab's namespace names in creation order.
func (l *Lab) allNS() []string {
	names := []string{l.Client, l.Router, l.Internet}
	for _, isp := range l.ISPs {
		names = append(names, isp.NS)
	}
	if l.VPN != "" {
		names = append(names, l.VPN)
	}
	return names
}

// build creates and wires all namespaces, then starts the servers.
func (l *Lab) build() error {
	for _, ns := range l.allNS() {
		if err := addNS(ns); err != nil {
			return err
		}
		l.mu.Lock()
		l.namespaces = append(l.namespaces, ns)
		l.mu.Unlock()
		h, err := netns.GetFromName(ns)
		if err != nil {
			return fmt.Errorf("lab: open netns %s: %w", ns, err)
		}
		l.mu.Lock()
		l.handles[ns] = h
		l.mu.Unlock()
	}

	// Sysctls go in before any interface exists so that every interface
	// inherits them from conf/default.
	ispNS := make(map[string]bool)
	for _, isp := range l.ISPs {
		ispNS[isp.NS] = true
	}
	for _, ns := range l.allNS() {
		s := map[string]string{
			// No IPv6: keeps the lab from emitting router solicitations,
			// MLD and DAD to addresses outside 198.18.0.0/15.
			"net/ipv6/conf/all/disable_ipv6":     "1",
			"net/ipv6/conf/default/disable_ipv6": "1",
		}
		if l.opts.IPv6 {
			ipv6Sysctls(s, ns == l.Router || ispNS[ns])
		}
		switch {
		case ns == l.Router:
			s["net/ipv4/ip_forward"] = "1"
			// Strict reverse-path filtering like a hardened router: replies
			// arriving on a WAN the main table would not use are dropped
			// unless wanlb marks them properly.
			s["net/ipv4/conf/all/rp_filter"] = "1"
			s["net/ipv4/conf/default/rp_filter"] = "1"
		case ispNS[ns]:
			s["net/ipv4/ip_forward"] = "1"
		}
		if err := l.sysctls(ns, s); err != nil {
			return err
		}
	}

	// Veth pairs: each command runs inside the namespace of the first end
	// and names the peer's namespace, so no interface ever exists in the
	// host namespace, not even transiently.
	type vethPair struct{ ns, dev, peerNS, peerDev string }
	links := []vethPair{{l.Client, "lan0", l.Router, "lan0"}}
	for _, isp := range l.ISPs {
		links = append(links,
			vethPair{l.Router, isp.RouterDev, isp.NS, "r0"},
			vethPair{isp.NS, "i0", l.Internet, fmt.Sprintf("isp%d", isp.Index)},
		)
	}
	if l.VPN != "" {
		links = append(links, vethPair{l.Router, "ts0", l.VPN, "ts0"})
	}
	for _, v := range links {
		if _, err := run("", "ip", "-n", v.ns, "link", "add", v.dev, "type", "veth", "peer", "name", v.peerDev, "netns", v.peerNS); err != nil {
			return fmt.Errorf("lab: create veth %s/%s <-> %s/%s: %w", v.ns, v.dev, v.peerNS, v.peerDev, err)
		}
	}

	// Addresses and links first, routes second: a gateway route is only
	// accepted once its subnet is configured.
	addrs := map[string][]string{
		l.Client:   {"link set lo up", "addr add 198.18.1.2/24 dev lan0", "link set lan0 up"},
		l.Router:   {"link set lo up", "addr add 198.18.1.1/24 dev lan0", "link set lan0 up"},
		l.Internet: {"link set lo up", "addr add " + serverAddr.String() + "/32 dev lo"},
	}
	routes := map[string][]string{
		l.Client: {"route add default via 198.18.1.1 dev lan0"},
	}
	for _, isp := range l.ISPs {
		up := fmt.Sprintf("isp%d", isp.Index)
		addrs[l.Router] = append(addrs[l.Router],
			fmt.Sprintf("addr add %s/24 dev %s", isp.RouterAddr, isp.RouterDev),
			"link set "+isp.RouterDev+" up")
		// Like OpenWrt's netifd: every WAN gets a main-table default, the
		// metric decides which one wins.
		routes[l.Router] = append(routes[l.Router],
			fmt.Sprintf("route add default via %s dev %s metric %d", isp.Gateway, isp.RouterDev, 10*isp.Index))
		addrs[isp.NS] = []string{
			"link set lo up",
			fmt.Sprintf("addr add %s/24 dev r0", isp.Gateway), "link set r0 up",
			fmt.Sprintf("addr add %s/24 dev i0", isp.PublicAddr), "link set i0 up",
		}
		routes[isp.NS] = []string{fmt.Sprintf("route add default via %s dev i0", isp.InternetAddr)}
		addrs[l.Internet] = append(addrs[l.Internet],
			fmt.Sprintf("addr add %s/24 dev %s", isp.InternetAddr, up), "link set "+up+" up")
	}
	if l.VPN != "" {
		addrs[l.Router] = append(addrs[l.Router], "addr add 198.19.52.1/30 dev ts0", "link set ts0 up")
		addrs[l.VPN] = []string{"link set lo up", "addr add " + vpnServerAddr.String() + "/32 dev lo",
			"addr add 198.19.52.2/30 dev ts0", "link set ts0 up"}
		routes[l.VPN] = []string{"route add default via 198.19.52.1 dev ts0"}
		// Tailscale style: the VPN subnet is only in table 52, reached by a
		// catch-all rule, never in main.
		routes[l.Router] = append(routes[l.Router],
			fmt.Sprintf("rule add pref %d table %d", VPNRulePref, VPNTable),
			fmt.Sprintf("route add 198.19.53.0/24 via 198.19.52.2 dev ts0 table %d", VPNTable))
	}
	for _, stage := range []map[string][]string{addrs, routes} {
		for _, ns := range l.allNS() {
			if cmds := stage[ns]; len(cmds) > 0 {
				if _, err := run(strings.Join(cmds, "\n")+"\n", "ip", "-n", ns, "-batch", "-"); err != nil {
					return fmt.Errorf("lab: configure %s: %w", ns, err)
				}
			}
		}
	}

	if l.opts.IPv6 {
		if err := l.build6(); err != nil {
			return err
		}
	}

	// conf/default covered interfaces created above, but set each one
	// explicitly so the router is strict regardless of creation order.
	rp := map[string]string{"net/ipv4/conf/lo/rp_filter": "1", "net/ipv4/conf/lan0/rp_filter": "1"}
	for _, isp := range l.ISPs {
		rp["net/ipv4/conf/"+isp.RouterDev+"/rp_filter"] = "1"
	}
	if l.VPN != "" {
		rp["net/ipv4/conf/ts0/rp_filter"] = "1"
	}
	if err := l.sysctls(l.Router, rp); err != nil {
		return err
	}

	// Firewall: the router only masquerades (OpenWrt wan zone), or runs
	// fw4 itself; ISPs masquerade toward the internet and carry an empty
	// fault chain.
	if l.opts.FW4 != nil {
		if err := l.startFW4(); err != nil {
			return err
		}
	} else {
		var rt strings.Builder
		rt.WriteString("*nat\n")
		for _, isp := range l.ISPs {
			fmt.Fprintf(&rt, "-A POSTROUTING -o %s -j MASQUERADE\n", isp.RouterDev)
		}
		rt.WriteString("COMMIT\n")
		if err := l.iptablesRestore(l.Router, rt.String()); err != nil {
			return err
		}
	}
	ispRules := "*nat\n-A POSTROUTING -o i0 -j MASQUERADE\nCOMMIT\n" +
		"*filter\n:" + FaultChain + " - [0:0]\n-A FORWARD -j " + FaultChain + "\nCOMMIT\n"
	for _, isp := range l.ISPs {
		if err := l.iptablesRestore(isp.NS, ispRules); err != nil {
			return err
		}
	}

	return l.startServers()
}

// sysctls writes /proc/sys entries from inside ns. /proc/sys/net resolves
// against the network namespace of the thread that opens the file, so this
// needs no child process.
func (l *Lab) sysctls(ns string, kv map[string]string) error {
	return l.Do(ns, func() error {
		for k, v := range kv {
			if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
				return fmt.Errorf("lab: sysctl %s=%s in %s: %w", strings.ReplaceAll(k, "/", "."), v, ns, err)
			}
		}
		return nil
	})
}

// iptablesRestore loads rules into ns without flushing existing ones.
func (l *Lab) iptablesRestore(ns, rules string) error {
	if _, err := run(rules, "ip", "netns", "exec", ns, "iptables-restore", "-w", "--noflush"); err != nil {
		return fmt.Errorf("lab: load iptables rules in %s: %w", ns, err)
	}
	return nil
}

// Close stops the servers, closes connections handed out by DialTCP and
// DialUDP, kills processes started in the lab's namespaces and deletes every
// namespace New created. It is safe to call more than once; later calls
// return nil.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	stops, conns, procs := l.stops, l.conns, l.procs
	namespaces, handles, fw4Dir := l.namespaces, l.handles, l.fw4Dir
	l.stops, l.conns, l.procs, l.handles = nil, nil, nil, nil
	l.mu.Unlock()

	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	for _, p := range procs {
		_ = p.Kill()
		<-p.done
	}
	for _, ns := range namespaces {
		// Backstop for processes started by other means (exec from Do):
		// they would keep the namespace alive after its name is gone.
		killNSProcs(ns)
	}
	for _, h := range handles {
		_ = h.Close()
	}
	var errs []error
	for i := len(namespaces) - 1; i >= 0; i-- {
		if _, err := run("", "ip", "netns", "del", namespaces[i]); err != nil {
			errs = append(errs, fmt.Errorf("lab: delete namespace: %w", err))
		}
	}
	if err := l.removeFW4Dir(fw4Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// isp returns ISP k (1-based) or an error naming the bad index.
func (l *Lab) isp(k int) (*ISP, error) {
	if k < 1 || k > len(l.ISPs) {
		return nil, fmt.Errorf("lab: no ISP %d (lab has %d)", k, len(l.ISPs))
	}
	return &l.ISPs[k-1], nil
}

// ISP returns ISP k (1-based).
func (l *Lab) ISP(k int) (ISP, error) {
	p, err := l.isp(k)
	if err != nil {
		return ISP{}, err
	}
	return *p, nil
}

// ServerAddr is the internet server address, 198.18.100.1.
func (l *Lab) ServerAddr() netip.Addr { return serverAddr }

// ClientAddr is the LAN client's address, 198.18.1.2.
func (l *Lab) ClientAddr() netip.Addr { return clientAddr }

// RouterLANAddr is the router's LAN address and the client's gateway,
// 198.18.1.1.
func (l *Lab) RouterLANAddr() netip.Addr { return routerLANAddr }

// VPNServerAddr is the address on the vpn namespace's loopback,
// 198.19.53.1, reachable from the router only through table 52.
func (l *Lab) VPNServerAddr() netip.Addr { return vpnServerAddr }

// ISPOf maps a remote address as reported by the whoami server
// ("198.18.22.2:40123", with or without port or trailing newline) to the ISP
// it came through, or 0 if it is not an ISP's public address.
func (l *Lab) ISPOf(remote string) int {
	remote = strings.TrimSpace(remote)
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(remote); err != nil {
		return 0
	}
	a = a.Unmap()
	for _, isp := range l.ISPs {
		if isp.PublicAddr == a || isp.PublicAddr6() == a {
			return isp.Index
		}
	}
	return 0
}
