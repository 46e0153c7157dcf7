package lab_test

// IPv6 in translated mode (the router masquerades IPv6 on every WAN): new
// IPv6 connections are balanced and fail over like IPv4's, through a real
// dual-stack lab, on both firewall backends.

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ti-mo/conntrack"

	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/lab"
)

// wanConfig6 is wanConfig with each WAN's IPv6 side: gateway6 the ISP's
// link-local router.
func wanConfig6(l *lab.Lab, weights ...int) string {
	return strings.ReplaceAll(wanConfig(l, weights...), "\toption detection", "\toption gateway6 'fe80::1'\n\toption detection")
}

func server6(l *lab.Lab, port int) string {
	return netip.AddrPortFrom(l.ServerAddr6(), uint16(port)).String()
}

// count6 opens n IPv6 connections from ns to the server and counts them
// per ISP (0: failed).
func count6(t *testing.T, l *lab.Lab, ns string, n int) map[int]int {
	t.Helper()
	c, err := l.CountISPsAt(ns, n, server6(l, lab.WhoamiPort))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIPv6Translated(t *testing.T) { eachBackend(t, testIPv6Translated) }

// One dual-stack lab per backend; the subtests run on it in order.
func testIPv6Translated(t *testing.T, backend string) {
	e := newEngineWith(t, lab.Options{ISPs: 2, IPv6: true, ConnectTimeout: time.Second}, backend)
	l := e.l
	// A neighbour's IPv6 mangle rule, to survive everything; the router's
	// IPv6 state before wanlb ever ran, for the flush subtest.
	if _, err := l.Exec(l.Router, "ip6tables", "-w", "-t", "mangle", "-A", "PREROUTING", "-p", "udp", "--dport", "5353",
		"-j", "MARK", "--set-xmark", "0x10000/0xff0000"); err != nil {
		t.Fatal(err)
	}
	pristine := snapshot6(t, l)

	t.Run("balanced 3:1", func(t *testing.T) {
		e.configure(wanConfig6(l, 3, 1))
		e.apply()
		const n = 2000
		c := count6(t, l, l.Client, n)
		if c[0] > 0 {
			t.Errorf("%d of %d IPv6 connections failed: %v", c[0], n, c)
		}
		share := float64(c[1]) / n
		// 4.6 standard deviations of a binomial(2000, 0.75) share (0.0097):
		// a correct product fails it once in 300,000 runs, a 2:1 bias
		// (0.667) passes it once in 7,500.
		if math.Abs(share-0.75) > 0.045 {
			t.Errorf("wan1 carried %.3f of new IPv6 connections, want 0.75: %v", share, c)
		}
		// IPv4 beside it, unchanged.
		if c4 := counts(t, l, 40); c4[0] > 0 || c4[1] == 0 {
			t.Errorf("IPv4 next to IPv6: %v", c4)
		}
	})

	t.Run("failover and recovery", func(t *testing.T) {
		e.configure(wanConfig6(l, 1, 1))
		e.apply(2) // wan1 offline
		if c := count6(t, l, l.Client, 60); c[2] != 60 {
			t.Errorf("with wan1 offline, new IPv6 connections went %v", c)
		}
		e.apply()
		if c := count6(t, l, l.Client, 60); c[0] > 0 || c[1] == 0 || c[2] == 0 {
			t.Errorf("after recovery, new IPv6 connections went %v", c)
		}
	})

	t.Run("conntrack deletion moves an IPv6 flow", func(t *testing.T) {
		e.configure(wanConfig6(l, 1, 1))
		p, _ := e.apply()
		// A UDP flow from one socket: its connection keeps its WAN until
		// its conntrack entry goes.
		var c *net.UDPConn
		isp := 0
		for i := 0; i < 40 && isp != 1; i++ {
			if c != nil {
				c.Close()
			}
			var err error
			if c, err = l.DialUDP(l.Client, "", server6(l, lab.EchoPort)); err != nil {
				t.Fatal(err)
			}
			isp = echoVia(l, c)
		}
		if isp != 1 {
			t.Fatal("no IPv6 flow landed on wan1 in 40 tries")
		}
		w1, _ := p.WAN("wan1")
		mark, mask := p.MarkMask.Value(w1.Mark), uint32(p.MarkMask)
		if n := marked6(t, l, mark, mask); n == 0 {
			t.Fatal("no IPv6 conntrack entry carries wan1's mark")
		}
		e.apply(2)
		if k := echoVia(l, c); k != 1 {
			t.Fatalf("before the deletion the flow went through wan%d, want wan1 (its entry keeps it there)", k)
		}
		err := l.Do(l.Router, func() error {
			ct, err := dataplane.NewConntrack()
			if err != nil {
				return err
			}
			defer ct.Close()
			return ct.DeleteMarked(mark, mask)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := marked6(t, l, mark, mask); n != 0 {
			t.Errorf("%d IPv6 conntrack entries with wan1's mark left after the deletion", n)
		}
		if k := echoVia(l, c); k != 2 {
			t.Errorf("after the deletion the flow went through wan%d, want wan2", k)
		}
		e.apply()
	})

	t.Run("policy rule with IPv6 addresses", func(t *testing.T) {
		e.configure(wanConfig6(l, 1, 1) + "config rule 'v6web'\n\tlist dest_ip '2001:db8:100::/64'\n\toption proto 'tcp'\n\tlist wan 'wan2'\n\toption fallback '0'\n")
		e.apply()
		if c := count6(t, l, l.Client, 40); c[2] != 40 {
			t.Errorf("IPv6 connections matching the rule went %v, want all through wan2", c)
		}
		// The rule's addresses are IPv6: IPv4 is not affected.
		if c := counts(t, l, 60); c[0] > 0 || c[1] == 0 || c[2] == 0 {
			t.Errorf("IPv4 connections went %v, want balanced", c)
		}
		e.apply(1) // wan2 offline, fallback 0: the rule's IPv6 traffic is dropped
		if c := count6(t, l, l.Client, 1); c[0] != 1 {
			t.Errorf("with its only WAN offline and fallback 0, the rule's connections went %v", c)
		}
		if c := counts(t, l, 20); c[1] != 20 {
			t.Errorf("IPv4 with wan2 offline went %v", c)
		}
	})

	t.Run("router-originated", func(t *testing.T) {
		e.configure(wanConfig6(l, 1, 1))
		e.apply()
		if c := count6(t, l, l.Router, 80); c[0] > 0 || c[1] == 0 || c[2] == 0 {
			t.Errorf("the router's own IPv6 connections went %v, want both WANs", c)
		}
		e.apply(1)
		if c := count6(t, l, l.Router, 40); c[1] != 40 {
			t.Errorf("with wan2 offline the router's IPv6 connections went %v", c)
		}
	})

	t.Run("app_optimized keeps IPv6 pairs", func(t *testing.T) {
		e.configure("config globals 'globals'\n\toption app_optimized '1'\n\n" + wanConfig6(l, 1, 1))
		e.apply()
		used := map[int]bool{}
		var srcs []netip.Addr
		for i := 0; i < 16; i++ {
			src := netip.MustParseAddr(fmt.Sprintf("fd00:1::%x", 0x100+i))
			if _, err := l.Exec(l.Client, "ip", "-6", "addr", "replace", src.String()+"/64", "dev", "lan0", "nodad"); err != nil {
				t.Fatal(err)
			}
			srcs = append(srcs, src)
		}
		for _, src := range srcs {
			// A fresh address's first SYN can wait for neighbour discovery:
			// time for one retransmission.
			c := countFrom(t, l, src, 10, 3*time.Second)
			if len(c) != 1 || c[0] > 0 {
				t.Errorf("the pair %s -> server went %v, want one WAN for all", src, c)
			}
			for k := range c {
				used[k] = true
			}
		}
		// The hash reads IPv6 addresses (the low bits of their last
		// bytes): 16 sources spread over both WANs.
		if !used[1] || !used[2] {
			t.Errorf("16 IPv6 sources all hashed to one WAN: %v", used)
		}
	})

	t.Run("flush removes the IPv6 state", func(t *testing.T) {
		bin, err := buildOnce()
		if err != nil {
			t.Fatal(err)
		}
		e.configure(wanConfig6(l, 1, 1))
		e.apply()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "wanlb"), []byte("config globals 'globals'\n\toption backend '"+backend+"'\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := l.Exec(l.Router, bin, "--config-dir", dir, "flush"); err != nil {
			t.Fatalf("wanlb flush: %v\n%s", err, out)
		}
		e.dp.RequestFullSync() // as the daemon's repair would after someone's flush
		if after := snapshot6(t, l); after != pristine {
			t.Errorf("flush left IPv6 state:\n--- after\n%s\n--- before wanlb ran\n%s", after, pristine)
		}
		e.configure(wanConfig6(l, 3, 1))
		e.apply()
		applied := snapshot6(t, l)
		for _, want := range []string{"lookup 3001", "suppress_prefixlength 0", "default via fe80::1 dev wan2", "unreachable default"} {
			if !strings.Contains(applied, want) {
				t.Errorf("applied IPv6 state lacks %q:\n%s", want, applied)
			}
		}
		if backend == dataplane.BackendIPTables && !strings.Contains(applied, "-A wanlb_pre") {
			t.Errorf("no ip6tables chains:\n%s", applied)
		}
		if out, err := l.Exec(l.Router, bin, "--config-dir", dir, "flush"); err != nil {
			t.Fatalf("wanlb flush: %v\n%s", err, out)
		}
		if after := snapshot6(t, l); after != pristine {
			t.Errorf("flush left IPv6 state:\n--- after\n%s\n--- before wanlb ran\n%s", after, pristine)
		}
		e.dp.RequestFullSync()
	})

	t.Run("inbound replies leave by their WAN", func(t *testing.T) {
		e.configure(wanConfig6(l, 1, 1))
		e.apply()
		stop, err := l.ServeWhoami(l.Router, "[::]:8080")
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		// Connections from the internet to each WAN's address: without
		// the WAN's connmark the reply to wan2's would leave by wan1 (the
		// main table's default) and never arrive.
		for _, isp := range l.ISPs {
			for i := 0; i < 5; i++ {
				remote, err := l.WhoamiAt(l.Internet, netip.AddrPortFrom(isp.RouterAddr6(), 8080).String())
				if err != nil {
					t.Fatalf("inbound IPv6 connection %d to wan%d: %v", i, isp.Index, err)
				}
				if ap, err := netip.ParseAddrPort(remote); err != nil || ap.Addr() != isp.InternetAddr6() {
					t.Errorf("inbound to wan%d: the router saw %s, want %s", isp.Index, remote, isp.InternetAddr6())
				}
			}
		}
	})
}

// snapshot6 is the router's IPv6 state wanlb may touch: ip6tables, ip -6
// rules and routes of every table.
func snapshot6(t *testing.T, l *lab.Lab) string {
	var b strings.Builder
	for _, cmd := range [][]string{{"ip6tables-save", "-t", "mangle"}, {"ip", "-6", "rule"}, {"ip", "-6", "route", "show", "table", "all"}} {
		out, err := l.Exec(l.Router, cmd[0], cmd[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "#") {
				b.WriteString(countersRe.ReplaceAllString(line, "") + "\n")
			}
		}
	}
	return b.String()
}

// marked6 counts the router's IPv6 conntrack entries whose mark is mark
// under mask.
func marked6(t *testing.T, l *lab.Lab, mark, mask uint32) int {
	t.Helper()
	n := 0
	err := l.Do(l.Router, func() error {
		c, err := conntrack.Dial(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		flows, err := c.Dump(nil)
		if err != nil {
			return err
		}
		for _, f := range flows {
			if f.TupleOrig.IP.SourceAddress.Is6() && f.Mark&mask == mark {
				n++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// countFrom opens n IPv6 connections from the client with source address
// src and counts them per ISP (0: failed).
func countFrom(t *testing.T, l *lab.Lab, src netip.Addr, n int, timeout time.Duration) map[int]int {
	t.Helper()
	c := map[int]int{}
	err := l.Do(l.Client, func() error {
		for i := 0; i < n; i++ {
			d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
			conn, err := d.Dial("tcp", server6(l, lab.WhoamiPort))
			if err != nil {
				c[0]++
				continue
			}
			conn.SetDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 128)
			k, _ := conn.Read(buf)
			conn.Close()
			c[l.ISPOf(strings.TrimSpace(string(buf[:k])))]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestIPv6Routed: with each ISP's own prefix on the LAN and ISPs that
// forward only their prefix, routed mode keeps every source prefix on its
// WAN (the main table's source-specific routes); translated mode, which
// this network cannot carry, would send half of them into the other ISP's
// ingress filter.
func TestIPv6Routed(t *testing.T) {
	e := newEngineWith(t, lab.Options{ISPs: 2, IPv6Routed: true, ConnectTimeout: time.Second}, "auto")
	l := e.l
	e.configure("config globals 'globals'\n\toption ipv6_mode 'routed'\n\n" + wanConfig6(l, 1, 1))
	e.apply()
	for _, isp := range l.ISPs {
		src := isp.LANPrefix6().Addr().Next().Next() // ::2
		if c := countFrom(t, l, src, 30, 3*time.Second); c[isp.Index] != 30 {
			t.Errorf("routed: connections from %s went %v, want all through wan%d", src, c, isp.Index)
		}
	}
	// IPv4 is still balanced.
	if c := counts(t, l, 40); c[0] > 0 || c[1] == 0 || c[2] == 0 {
		t.Errorf("IPv4 beside routed IPv6 went %v", c)
	}
	// The contrast: translated mode balances these connections, and those
	// sent to the other ISP die there.
	e.configure(wanConfig6(l, 1, 1))
	e.apply()
	src := l.ISPs[0].LANPrefix6().Addr().Next().Next()
	if c := countFrom(t, l, src, 30, 500*time.Millisecond); c[0] == 0 {
		t.Errorf("translated mode on a routed network: connections from %s went %v; the test cannot tell the modes apart", src, c)
	}
}
