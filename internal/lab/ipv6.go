package lab

// IPv6 in the lab (Options.IPv6): the same topology dual-stacked, as an
// ISP delivering IPv6 next to IPv4 and a router that translates it
// (masquerade6, what wanlb's translated mode needs):
//
//	client  lan0 fd00:1::2/64 ── lan0 fd00:1::1/64  router           (ULA LAN)
//	router  wan<k> 2001:db8:(10+k)::2/64 ── r0 2001:db8:(10+k)::1/64 and fe80::1  isp<k>
//	isp<k>  i0 2001:db8:(20+k)::2/64 ── isp<k> 2001:db8:(20+k)::1/64  internet
//	internet lo 2001:db8:100::1/128 (whoami :80, UDP echo :7)
//
// The router's main table has one IPv6 default route per WAN via the ISP's
// link-local fe80::1 (as router advertisements give it) with the IPv4
// metrics; the router masquerades IPv6 on every WAN (fw4's masq6 with
// Options.FW4, else ip6tables), and each ISP masquerades toward the
// internet, so the server sees ISP k as 2001:db8:(20+k)::2. Router
// solicitations, DAD and router advertisements are off; whatever multicast
// the kernel still sends stays on the lab's veths.
//
// With Options.IPv6Routed the router translates nothing: ISP k delegates
// 2001:db8:(30+k)::/64 to the LAN and forwards only that prefix and its
// WAN link; see build6Routed.

import (
	"fmt"
	"net/netip"
	"strings"
)

var (
	clientAddr6    = netip.MustParseAddr("fd00:1::2")
	routerLANAddr6 = netip.MustParseAddr("fd00:1::1")
	serverAddr6    = netip.MustParseAddr("2001:db8:100::1")
	ispLinkLocal   = netip.MustParseAddr("fe80::1")
)

// ServerAddr6 is the internet server's IPv6 address, 2001:db8:100::1.
func (l *Lab) ServerAddr6() netip.Addr { return serverAddr6 }

// ClientAddr6 is the LAN client's IPv6 (ULA) address, fd00:1::2.
func (l *Lab) ClientAddr6() netip.Addr { return clientAddr6 }

// RouterLANAddr6 is the router's LAN IPv6 address, fd00:1::1.
func (l *Lab) RouterLANAddr6() netip.Addr { return routerLANAddr6 }

// Gateway6 is the ISP's IPv6 next hop for the router: its link-local
// fe80::1 on the WAN link (a route via it needs the device).
func (isp ISP) Gateway6() netip.Addr { return ispLinkLocal }

// RouterAddr6 is the router's IPv6 address on the WAN link,
// 2001:db8:(10+k)::2.
func (isp ISP) RouterAddr6() netip.Addr { return addr6(10+isp.Index, 2) }

// PublicAddr6 is the address the internet sees for IPv6 through this ISP,
// 2001:db8:(20+k)::2.
func (isp ISP) PublicAddr6() netip.Addr { return addr6(20+isp.Index, 2) }

// InternetAddr6 is the internet's side of the ISP uplink, 2001:db8:(20+k)::1.
func (isp ISP) InternetAddr6() netip.Addr { return addr6(20+isp.Index, 1) }

// addr6 is 2001:db8:<net>::<host>, net written in decimal digits as the
// IPv4 plan's third octet is.
func addr6(net, host int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:%d::%d", net, host))
}

// ipv6Sysctls turns IPv6 on in a namespace's sysctls s (before its
// interfaces exist), forwarding where it routes.
func ipv6Sysctls(s map[string]string, forwards bool) {
	for _, c := range []string{"all", "default"} {
		s["net/ipv6/conf/"+c+"/disable_ipv6"] = "0"
		s["net/ipv6/conf/"+c+"/accept_dad"] = "0"
		s["net/ipv6/conf/"+c+"/accept_ra"] = "0"
		s["net/ipv6/conf/"+c+"/router_solicitations"] = "0"
		if forwards {
			s["net/ipv6/conf/"+c+"/forwarding"] = "1"
		}
	}
}

// build6 adds the IPv6 addresses, routes and translation of Options.IPv6
// (after IPv4's; fw4's masq6 comes with its config).
func (l *Lab) build6() error {
	cmds := map[string][]string{
		l.Client:   {"addr add fd00:1::2/64 dev lan0 nodad", "route add default via fd00:1::1 dev lan0"},
		l.Router:   {"addr add fd00:1::1/64 dev lan0 nodad"},
		l.Internet: {"addr add " + serverAddr6.String() + "/128 dev lo"},
	}
	for _, isp := range l.ISPs {
		cmds[l.Router] = append(cmds[l.Router],
			fmt.Sprintf("addr add %s/64 dev %s nodad", isp.RouterAddr6(), isp.RouterDev),
			fmt.Sprintf("route add default via %s dev %s metric %d", isp.Gateway6(), isp.RouterDev, 10*isp.Index))
		cmds[isp.NS] = []string{
			fmt.Sprintf("addr add %s/64 dev r0 nodad", addr6(10+isp.Index, 1)),
			fmt.Sprintf("addr add %s/64 dev r0 nodad", isp.Gateway6()),
			fmt.Sprintf("addr add %s/64 dev i0 nodad", isp.PublicAddr6()),
			fmt.Sprintf("route add default via %s dev i0", isp.InternetAddr6()),
		}
		up := fmt.Sprintf("isp%d", isp.Index)
		cmds[l.Internet] = append(cmds[l.Internet],
			fmt.Sprintf("addr add %s/64 dev %s nodad", isp.InternetAddr6(), up),
			// Inbound connections to the router's WAN addresses go
			// through their ISP.
			fmt.Sprintf("route add %s/64 via %s dev %s", addr6(10+isp.Index, 0), isp.PublicAddr6(), up))
	}
	for _, ns := range l.allNS() {
		if c := cmds[ns]; len(c) > 0 {
			if _, err := run(strings.Join(c, "\n")+"\n", "ip", "-6", "-n", ns, "-batch", "-"); err != nil {
				return fmt.Errorf("lab: configure IPv6 in %s: %w", ns, err)
			}
		}
	}
	if l.opts.IPv6Routed {
		return l.build6Routed()
	}
	if l.opts.FW4 == nil {
		var rt strings.Builder
		rt.WriteString("*nat\n")
		for _, isp := range l.ISPs {
			fmt.Fprintf(&rt, "-A POSTROUTING -o %s -j MASQUERADE\n", isp.RouterDev)
		}
		rt.WriteString("COMMIT\n")
		if err := l.ip6tablesRestore(l.Router, rt.String()); err != nil {
			return err
		}
	}
	ispRules := "*nat\n-A POSTROUTING -o i0 -j MASQUERADE\nCOMMIT\n" +
		"*filter\n:" + FaultChain + " - [0:0]\n-A FORWARD -j " + FaultChain + "\nCOMMIT\n"
	for _, isp := range l.ISPs {
		if err := l.ip6tablesRestore(isp.NS, ispRules); err != nil {
			return err
		}
	}
	return l.startServers6()
}

// LANPrefix6 is the prefix ISP k delegates to the router in a routed IPv6
// lab, 2001:db8:(30+k)::/64; the client holds ::2 of it.
func (isp ISP) LANPrefix6() netip.Prefix {
	return netip.PrefixFrom(addr6(30+isp.Index, 0), 64)
}

// build6Routed is build6's end for Options.IPv6Routed.
func (l *Lab) build6Routed() error {
	cmds := map[string][]string{}
	for _, isp := range l.ISPs {
		p := isp.LANPrefix6()
		cmds[l.Client] = append(cmds[l.Client], fmt.Sprintf("addr add %s/64 dev lan0 nodad", addr6(30+isp.Index, 2)))
		cmds[l.Router] = append(cmds[l.Router],
			fmt.Sprintf("addr add %s/64 dev lan0 nodad", addr6(30+isp.Index, 1)),
			fmt.Sprintf("route add default from %s via %s dev %s metric %d", p, isp.Gateway6(), isp.RouterDev, 10*isp.Index))
		cmds[isp.NS] = []string{fmt.Sprintf("route add %s via %s dev r0", p, isp.RouterAddr6())}
	}
	for _, ns := range l.allNS() {
		if c := cmds[ns]; len(c) > 0 {
			if _, err := run(strings.Join(c, "\n")+"\n", "ip", "-6", "-n", ns, "-batch", "-"); err != nil {
				return fmt.Errorf("lab: configure routed IPv6 in %s: %w", ns, err)
			}
		}
	}
	for _, isp := range l.ISPs {
		// Ingress filtering: only the delegated prefix and the WAN link.
		rules := "*nat\n-A POSTROUTING -o i0 -j MASQUERADE\nCOMMIT\n" +
			"*filter\n:" + FaultChain + " - [0:0]\n:lab_ingress - [0:0]\n-A FORWARD -j " + FaultChain + "\n-A FORWARD -i r0 -j lab_ingress\n" +
			fmt.Sprintf("-A lab_ingress -s %s -j RETURN\n-A lab_ingress -s %s/64 -j RETURN\n-A lab_ingress -j DROP\nCOMMIT\n", isp.LANPrefix6(), addr6(10+isp.Index, 0))
		if err := l.ip6tablesRestore(isp.NS, rules); err != nil {
			return err
		}
	}
	return l.startServers6()
}

func (l *Lab) ip6tablesRestore(ns, rules string) error {
	if _, err := run(rules, "ip", "netns", "exec", ns, "ip6tables-restore", "-w", "--noflush"); err != nil {
		return fmt.Errorf("lab: load ip6tables rules in %s: %w", ns, err)
	}
	return nil
}

// startServers6 runs the whoami and UDP echo servers on ServerAddr6.
func (l *Lab) startServers6() error {
	if _, err := l.serveWhoami(l.Internet, netip.AddrPortFrom(serverAddr6, WhoamiPort).String(), 0); err != nil {
		return err
	}
	return l.serveEcho(l.Internet, netip.AddrPortFrom(serverAddr6, EchoPort).String())
}

// faultTools are the firewalls a fault rule goes into: ip6tables too in
// an IPv6 lab, so a blackholed ISP drops both families.
func (l *Lab) faultTools() []string {
	if l.opts.IPv6 {
		return []string{"iptables", "ip6tables"}
	}
	return []string{"iptables"}
}

// CountISPsAt is CountISPs to a whoami server at addr (host:port), e.g.
// the IPv6 server: netip.AddrPortFrom(l.ServerAddr6(), WhoamiPort).
func (l *Lab) CountISPsAt(ns string, n int, addr string) (map[int]int, error) {
	counts := make(map[int]int)
	err := l.Do(ns, func() error {
		for i := 0; i < n; i++ {
			remote, err := l.whoamiOnce(addr)
			if err != nil {
				counts[0]++
				continue
			}
			counts[l.ISPOf(remote)]++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lab: count ISPs from %s to %s: %w", ns, addr, err)
	}
	return counts, nil
}

// Blackhole6 makes ISP k drop every IPv6 packet it forwards while IPv4
// goes on working, links up: an ISP whose IPv6 alone dies. Heal ends it.
func (l *Lab) Blackhole6(k int) error {
	isp, err := l.isp(k)
	if err != nil {
		return err
	}
	if !l.opts.IPv6 {
		return fmt.Errorf("lab: blackhole IPv6 of ISP %d: the lab has no IPv6 (Options.IPv6)", k)
	}
	if _, err := l.Exec(isp.NS, "ip6tables", "-w", "-A", FaultChain, "-j", "DROP"); err != nil {
		return fmt.Errorf("lab: blackhole IPv6 of ISP %d: %w", k, err)
	}
	return nil
}
