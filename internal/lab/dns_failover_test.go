package lab_test

// DNS during failover: netifd tells wanlb each WAN's resolvers, and wanlb
// pins them to their WAN (ISPs often refuse queries from other networks).
// While that WAN is down the pin must go, or every query the router and
// the LAN send to its resolvers dies in the dead link.

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
	"github.com/wanlb/wanlb/internal/netifd"
	"github.com/wanlb/wanlb/internal/netifdtest"
	"github.com/wanlb/wanlb/internal/openwrttest"
)

// wan1Resolver and wan1Resolver6 are the DNS servers netifd reports for
// wan1 (on its interface wan1, and on its IPv6 interface wan16). They sit
// on the internet side and answer queries from every ISP, so a query to
// them works exactly when it leaves by a working WAN; dnsmasq's query log
// tells which.
var (
	wan1Resolver  = netip.MustParseAddr("198.18.100.53")
	wan1Resolver6 = netip.MustParseAddr("2001:db8:100::53")
	wan1Answer    = netip.MustParseAddr("198.18.100.99")
)

// dnsResolver runs dnsmasq on wan1Resolver and wan1Resolver6 (the lab
// needs IPv6), answering *.wan1.test with wan1Answer and logging every
// query with its source, and waits until it answers on both.
func dnsResolver(t *testing.T, l *lab.Lab) *lab.Process {
	t.Helper()
	servers := []netip.Addr{wan1Resolver, wan1Resolver6}
	args := []string{"--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces", "--port=53",
		"--address=/wan1.test/" + wan1Answer.String(),
		"--log-queries", "--log-facility=-", "--pid-file", "--user=root", "--conf-file=/dev/null"}
	for _, a := range servers {
		if _, err := l.Exec(l.Internet, "ip", "addr", "add", netip.PrefixFrom(a, a.BitLen()).String(), "dev", "lo"); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--listen-address="+a.String())
	}
	p, err := l.Start(l.Internet, "dnsmasq", args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range servers {
		end := time.Now().Add(5 * time.Second)
		for {
			if _, err := dnsQuery(l, l.Internet, a, 0, "ready.wan1.test"); err == nil {
				break
			} else if time.Now().After(end) {
				t.Fatalf("dnsmasq does not answer on %s: %v\n%s", a, err, p.Output())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return p
}

// dnsQuery sends one A query for name to server from ns, over UDP from a
// plain socket bound to port (0: any) as a stub resolver does, and checks
// the answer.
func dnsQuery(l *lab.Lab, ns string, server netip.Addr, port int, name string) (netip.Addr, error) {
	var got netip.Addr
	err := l.Do(ns, func() error {
		q, err := dnsmessage.NewName(name + ".")
		if err != nil {
			return err
		}
		msg := dnsmessage.Message{Header: dnsmessage.Header{ID: uint16(time.Now().UnixNano()), RecursionDesired: true},
			Questions: []dnsmessage.Question{{Name: q, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}
		query, err := msg.Pack()
		if err != nil {
			return err
		}
		d := net.Dialer{LocalAddr: &net.UDPAddr{Port: port}}
		c, err := d.Dial("udp", netip.AddrPortFrom(server, 53).String())
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(query); err != nil {
			return err
		}
		buf := make([]byte, 1500)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		var answer dnsmessage.Message
		if err := answer.Unpack(buf[:n]); err != nil {
			return err
		}
		if answer.Header.ID != msg.Header.ID || answer.Header.RCode != dnsmessage.RCodeSuccess || len(answer.Answers) != 1 {
			return fmt.Errorf("bad answer %+v", answer.Header)
		}
		a, ok := answer.Answers[0].Body.(*dnsmessage.AResource)
		if !ok {
			return fmt.Errorf("answer is not an A record: %v", answer.Answers[0].Body)
		}
		got = netip.AddrFrom4(a.A)
		return nil
	})
	if err == nil && got != wan1Answer {
		err = fmt.Errorf("answered %s, want %s", got, wan1Answer)
	}
	return got, err
}

// viaISP asks the resolver at server for a fresh name from ns and returns
// the ISP the query arrived through (from dnsmasq's log), or an error.
// Each query has a source port of its own (20000 + its number, below the
// ephemeral range): a flow's conntrack entry keeps the WAN it took, so a
// random port that met the entry of a query sent while wan1 was down
// would follow that query's WAN.
func viaISP(l *lab.Lab, resolver *lab.Process, ns string, server netip.Addr, seq *int) (int, error) {
	*seq++
	return viaISPFrom(l, resolver, ns, server, 20000+*seq, fmt.Sprintf("q%d.wan1.test", *seq))
}

// viaISPFrom is viaISP from a given source port, asking for name.
func viaISPFrom(l *lab.Lab, resolver *lab.Process, ns string, server netip.Addr, port int, name string) (int, error) {
	if _, err := dnsQuery(l, ns, server, port, name); err != nil {
		return 0, err
	}
	// The log line reaches us through a pipe, possibly after the answer.
	re := regexp.MustCompile(`query\[A\] ` + regexp.QuoteMeta(name) + ` from (\S+)`)
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(resolver.Output()); m != nil {
			return l.ISPOf(m[1]), nil
		}
		if time.Now().After(end) {
			return 0, fmt.Errorf("dnsmasq logged no query for %s", name)
		}
	}
}

// Both families at once: wan1's IPv4 resolver comes from its interface,
// its IPv6 one from its IPv6 interface (wan16), and each is pinned to wan1
// and released while wan1 is down. The lab translates IPv6 (masquerade6),
// so a query to wan1's IPv6 resolver can leave by wan2 as IPv4 ones can.
func TestDNSFollowsFailover(t *testing.T) {
	for _, backend := range []string{"nftables", "iptables"} {
		t.Run(backend, func(t *testing.T) { dnsFollowsFailover(t, backend) })
	}
}

func dnsFollowsFailover(t *testing.T, backend string) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2, IPv6: true})
	resolver := dnsResolver(t, l)
	ifaces := map[string]netifd.Interface{}
	for _, isp := range l.ISPs {
		ifc := netifd.Interface{Name: fmt.Sprintf("wan%d", isp.Index), Up: true, Device: isp.RouterDev, Gateway: isp.Gateway}
		ifc6 := netifd.Interface{Name: ifc.Name + "6", Up: true, Device: isp.RouterDev, Default6: true, Gateway6: isp.Gateway6()}
		if isp.Index == 1 {
			ifc.DNS = []netip.Addr{wan1Resolver}
			ifc6.DNS = []netip.Addr{wan1Resolver6}
		}
		ifaces[ifc.Name], ifaces[ifc6.Name] = ifc, ifc6
	}
	ubus := netifdtest.Serve(t, openwrttest.New(t), l.Router, ifaces)
	d := startDaemonWithUbus(t, l, ubus, "config globals 'globals'\n\toption backend '"+backend+"'\n\n"+netifdWANs(l))
	d.waitAllOnline(15 * time.Second)

	seq := 0
	from := map[string]string{l.Router: "the router", l.Client: "the LAN client"}
	servers := []netip.Addr{wan1Resolver, wan1Resolver6}
	// allVia checks that n queries from ns to server all go through ISP k.
	allVia := func(ns string, server netip.Addr, k, n int, when string) {
		t.Helper()
		for i := 0; i < n; i++ {
			if got, err := viaISP(l, resolver, ns, server, &seq); err != nil || got != k {
				t.Fatalf("%s: query %d from %s to wan1's resolver %s went via ISP %d (%v), want ISP %d", when, i, from[ns], server, got, err, k)
			}
		}
	}
	// waitVia waits until a query from ns to server works and goes
	// through ISP k.
	waitVia := func(ns string, server netip.Addr, k int, since time.Time, within time.Duration, when string) {
		t.Helper()
		end := time.Now().Add(within)
		for {
			got, err := viaISP(l, resolver, ns, server, &seq)
			if err == nil && got == k {
				t.Logf("%s: DNS from %s to %s through ISP %d %s after the change", when, from[ns], server, k, time.Since(since).Round(10*time.Millisecond))
				return
			}
			if time.Now().After(end) {
				out, _ := l.Exec(l.Router, "ip", "rule")
				out6, _ := l.Exec(l.Router, "ip", "-6", "rule")
				t.Fatalf("%s: DNS from %s to wan1's resolver %s not through ISP %d within %s (last: ISP %d, %v)\nip rule:\n%s\nip -6 rule:\n%s",
					when, from[ns], server, k, within, got, err, out, out6)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The resolvers pinned now, each with its WAN's chain or mark.
	pinned := func() string {
		var cmds [][]string
		if backend == "nftables" {
			cmds = [][]string{{"nft", "list", "chain", "inet", "wanlb", "dns"}}
		} else {
			cmds = [][]string{{"iptables", "-w", "-t", "mangle", "-S", "wanlb_decide"}, {"ip6tables", "-w", "-t", "mangle", "-S", "wanlb_decide"}}
		}
		var all string
		for _, c := range cmds {
			out, err := l.Exec(l.Router, c[0], c[1:]...)
			if err != nil {
				t.Fatalf("%v: %v\n%s", c, err, out)
			}
			all += out
		}
		return all
	}
	pinnedTo1 := func(server netip.Addr) bool {
		if backend == "nftables" {
			return strings.Contains(pinned(), server.String()+" : goto set_wan1")
		}
		return strings.Contains(pinned(), "-d "+netip.PrefixFrom(server, server.BitLen()).String()+` -m comment --comment "dns wan1"`)
	}
	// sticky sends a query from the port kept for ns and server: the
	// same flow each time, as long as its conntrack entry lives.
	sticky := func(ns string, server netip.Addr) (int, error) {
		port := 30000
		if ns == l.Client {
			port += 1
		}
		if server.Is6() {
			port += 2
		}
		seq++
		return viaISPFrom(l, resolver, ns, server, port, fmt.Sprintf("sticky%d.wan1.test", seq))
	}

	// Both WANs up: wan1's resolvers are pinned to wan1, although wan2
	// carries half of the other traffic of each family.
	for _, ns := range []string{l.Router, l.Client} {
		for _, server := range servers {
			allVia(ns, server, 1, 10, "both WANs up")
		}
	}
	for _, server := range servers {
		if !pinnedTo1(server) {
			t.Errorf("wan1's resolver %s not pinned to wan1:\n%s", server, pinned())
		}
	}

	if err := l.Blackhole(1); err != nil {
		t.Fatal(err)
	}
	fault := time.Now()
	d.waitState("wan1", "offline", 10*time.Second)
	for _, ns := range []string{l.Router, l.Client} {
		for _, server := range servers {
			waitVia(ns, server, 2, fault, 10*time.Second, "wan1 down")
			allVia(ns, server, 2, 5, "wan1 down")
			if k, err := sticky(ns, server); err != nil || k != 2 {
				t.Fatalf("wan1 down: the kept flow from %s to %s went via ISP %d (%v), want 2", from[ns], server, k, err)
			}
		}
	}
	for _, server := range servers {
		if rules := pinned(); strings.Contains(rules, server.String()) {
			t.Errorf("wan1's resolver %s still pinned while wan1 is offline:\n%s", server, rules)
		}
	}

	if err := l.Heal(1); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	d.waitState("wan1", "online", 15*time.Second)
	for _, ns := range []string{l.Router, l.Client} {
		for _, server := range servers {
			waitVia(ns, server, 1, healed, 10*time.Second, "wan1 back")
			allVia(ns, server, 1, 10, "wan1 back")
			// A flow that began while wan1 was down keeps wan2, its
			// route and its source address agreeing, like every other
			// connection: it is not sent into wan1 with wan2's address.
			if k, err := sticky(ns, server); err != nil || k != 2 {
				t.Errorf("wan1 back: the flow from %s to %s that began while wan1 was down went via ISP %d (%v), want it to keep ISP 2", from[ns], server, k, err)
			}
		}
	}
}
