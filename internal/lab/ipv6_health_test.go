package lab_test

// Detection per family with the real daemon: each WAN is probed over IPv4
// and over IPv6 (its own targets, marked and bound like IPv4's). ISP 1's
// IPv6 dies alone: wan1's IPv6 side goes offline and new IPv6 connections
// and its IPv6 flows move to wan2, while wan1 keeps its IPv4 (state,
// new connections, flows). Then it recovers.

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
)

// dualTargets probe both families: IPv4 as everywhere, IPv6 by ICMPv6
// echo and TCP to the lab's IPv6 server.
const dualTargets = targets + "\tlist track '2001:db8:100::1'\n\tlist track 'tcp://[2001:db8:100::1]:80'\n" + gateway6

func TestIPv6OwnHealth(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2, IPv6: true, ConnectTimeout: time.Second})
	d := startDaemon(t, l, labWANs(l, map[int]string{1: dualTargets, 2: dualTargets}))
	d.waitAllOnline(15 * time.Second)
	waitState6(t, d, "wan1", "online", 15*time.Second)
	waitState6(t, d, "wan2", "online", 15*time.Second)

	// One flow per family pinned to wan1 by its conntrack entry.
	c4 := udpFlowOn(t, l, l.ServerAddr(), 1)
	c6 := udpFlowOn(t, l, l.ServerAddr6(), 1)

	if err := l.Blackhole6(1); err != nil {
		t.Fatal(err)
	}
	took := waitState6(t, d, "wan1", "offline", 10*time.Second)
	t.Logf("wan1's IPv6 side offline %s after its IPv6 was blackholed", took.Round(10*time.Millisecond))
	w := d.wan("wan1")
	if w.State != "online" || !w.Active || len(w.Changes) != 0 {
		t.Errorf("wan1's IPv4 was affected: state %s active %v changes %v", w.State, w.Active, w.Changes)
	}
	if w.IPv6.Active || w.IPv6.LossPct == 0 {
		t.Errorf("wan1's IPv6 side: %+v", w.IPv6)
	}
	if c := count6(t, l, l.Client, 30); c[2] != 30 {
		t.Errorf("with wan1's IPv6 offline, new IPv6 connections went %v", c)
	}
	if ok, c := balancedNow(t, l, 30, 1, 2); !ok {
		t.Errorf("with wan1's IPv6 offline, new IPv4 connections went %v, want both WANs", c)
	}
	if k := echoVia(l, c6); k != 2 {
		t.Errorf("wan1's IPv6 flow now goes through ISP %d, want 2 (its entry deleted)", k)
	}
	if k := echoVia(l, c4); k != 1 {
		t.Errorf("wan1's IPv4 flow now goes through ISP %d, want 1 (untouched)", k)
	}

	if err := l.Heal(1); err != nil {
		t.Fatal(err)
	}
	took = waitState6(t, d, "wan1", "online", 15*time.Second)
	t.Logf("wan1's IPv6 side online %s after healing", took.Round(10*time.Millisecond))
	if c := count6(t, l, l.Client, 40); c[0] > 0 || c[1] == 0 || c[2] == 0 {
		t.Errorf("after recovery, new IPv6 connections went %v", c)
	}
	if out, _ := d.cli("status"); !strings.Contains(out, "  IPv6") {
		t.Errorf("wanlb status shows no IPv6 rows:\n%s", out)
	}
}

// waitState6 waits until wan's IPv6 side is in state and returns how long
// it took.
func waitState6(t *testing.T, d *daemonRun, wan, state string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if w := d.wan(wan); w.IPv6 != nil && w.IPv6.State == state {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s's IPv6 side not %s within %s: %+v", wan, state, within, d.wan(wan).IPv6)
	return 0
}

// udpFlowOn opens UDP flows from the client to the echo server at addr
// until one goes through ISP k, and returns it.
func udpFlowOn(t *testing.T, l *lab.Lab, addr netip.Addr, k int) *net.UDPConn {
	t.Helper()
	for i := 0; i < 40; i++ {
		c, err := l.DialUDP(l.Client, "", netip.AddrPortFrom(addr, lab.EchoPort).String())
		if err != nil {
			t.Fatal(err)
		}
		if echoVia(l, c) == k {
			t.Cleanup(func() { c.Close() })
			return c
		}
		c.Close()
	}
	t.Fatalf("no UDP flow to %s went through ISP %d in 40 tries", addr, k)
	return nil
}

// echoVia sends one datagram on c and returns the ISP its reply came
// through (the server echoes the address it saw), 0 when none came within
// 3 s. Either family.
func echoVia(l *lab.Lab, c *net.UDPConn) int { return echoWithin(l, c, 3*time.Second) }

// echoWithin is echoVia waiting at most wait for the reply.
func echoWithin(l *lab.Lab, c *net.UDPConn, wait time.Duration) int {
	c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte("x")); err != nil {
		return 0
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		return 0
	}
	remote, _, _ := strings.Cut(string(buf[:n]), " ")
	return l.ISPOf(remote)
}
