package lab

import (
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"github.com/wanlb/wanlb/internal/labtest"
)

var labRange = netip.MustParsePrefix("198.18.0.0/15")

// requireRoot is the package-local spelling used by these tests.
func requireRoot(t testing.TB) { t.Helper(); labtest.RequireRoot(t) }

// newLab builds a lab and registers its Close with the test.
func newLab(t *testing.T, opts Options) *Lab {
	t.Helper()
	start := time.Now()
	l, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Logf("New(%+v) took %v, prefix %s", opts, time.Since(start).Round(time.Millisecond), l.Prefix)
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// mustExec runs a command in ns and fails the test on error.
func mustExec(t *testing.T, l *Lab, ns string, name string, args ...string) string {
	t.Helper()
	out, err := l.Exec(ns, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// preferWAN makes wan<k> the router's best main-table default by giving it
// metric 5, and returns a function restoring the original metric.
func preferWAN(t *testing.T, l *Lab, k int) func() {
	t.Helper()
	isp := l.ISPs[k-1]
	gw, dev := isp.Gateway.String(), isp.RouterDev
	orig := fmt.Sprint(10 * k)
	mustExec(t, l, l.Router, "ip", "route", "del", "default", "via", gw, "dev", dev, "metric", orig)
	mustExec(t, l, l.Router, "ip", "route", "add", "default", "via", gw, "dev", dev, "metric", "5")
	return func() {
		mustExec(t, l, l.Router, "ip", "route", "del", "default", "via", gw, "dev", dev, "metric", "5")
		mustExec(t, l, l.Router, "ip", "route", "add", "default", "via", gw, "dev", dev, "metric", orig)
	}
}

// hostCheck asserts that the host namespace carries nothing of a lab. The
// test goroutine never changes namespace, so plain netlink calls see the host.
func hostCheck(t *testing.T) {
	t.Helper()
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatalf("host addresses: %v", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && labRange.Contains(ip.Unmap()) {
			t.Errorf("host namespace has lab address %v", a)
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatalf("host links: %v", err)
	}
	labDev := regexp.MustCompile(`^(lan0|wan[0-9]|r0|i0|ts0|isp[0-9])$`)
	for _, ln := range links {
		if labDev.MatchString(ln.Attrs().Name) {
			t.Errorf("host namespace has lab link %s", ln.Attrs().Name)
		}
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatalf("host routes: %v", err)
	}
	for _, r := range routes {
		if r.Dst != nil {
			if ip, ok := netip.AddrFromSlice(r.Dst.IP); ok && labRange.Contains(ip.Unmap()) {
				t.Errorf("host namespace has lab route %v", r)
			}
		}
	}
}

// netnsNames lists `ip netns list` names.
func netnsNames(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func assertGone(t *testing.T, l *Lab) {
	t.Helper()
	for _, n := range netnsNames(t) {
		if strings.HasPrefix(n, l.Prefix) {
			t.Errorf("namespace %s still exists after Close", n)
		}
	}
}

func TestLab(t *testing.T) {
	requireRoot(t)
	hostCheck(t)
	var bg *Process // started in StartIsKilledOnClose, checked after Close
	l := newLab(t, Options{VPN: true, SlowDelay: 300 * time.Millisecond, ConnectTimeout: 2 * time.Second})
	hostCheck(t)

	t.Run("Names", func(t *testing.T) {
		if len(l.ISPs) != 3 {
			t.Fatalf("got %d ISPs, want 3", len(l.ISPs))
		}
		all := strings.Join(netnsNames(t), " ")
		for _, ns := range append([]string{l.Client, l.Router, l.Internet, l.VPN}, l.ISPs[0].NS, l.ISPs[2].NS) {
			if !strings.HasPrefix(ns, l.Prefix) || !strings.Contains(all, ns) {
				t.Errorf("namespace %q missing or not under prefix %q", ns, l.Prefix)
			}
		}
		isp2 := l.ISPs[1]
		if isp2.RouterDev != "wan2" || isp2.Gateway.String() != "198.18.12.1" ||
			isp2.RouterAddr.String() != "198.18.12.2" || isp2.PublicAddr.String() != "198.18.22.2" {
			t.Errorf("ISP 2 = %+v", isp2)
		}
		if got := l.ISPOf("198.18.22.2:40123\n"); got != 2 {
			t.Errorf("ISPOf = %d, want 2", got)
		}
		if got := l.ISPOf("198.18.1.2:1"); got != 0 {
			t.Errorf("ISPOf(client) = %d, want 0", got)
		}
	})

	t.Run("RouterIsStockOpenWrt", func(t *testing.T) {
		if out := mustExec(t, l, l.Router, "iptables", "-w", "-t", "mangle", "-S"); strings.Contains(out, "-A ") {
			t.Errorf("router has mangle rules:\n%s", out)
		}
		rules := mustExec(t, l, l.Router, "ip", "rule", "show")
		for _, line := range strings.Split(strings.TrimSpace(rules), "\n") {
			pref := strings.TrimSuffix(strings.Fields(line)[0], ":")
			if pref != "0" && pref != "5270" && pref != "32766" && pref != "32767" {
				t.Errorf("unexpected ip rule %q", line)
			}
		}
		main := mustExec(t, l, l.Router, "ip", "route", "show", "table", "main")
		for k := 1; k <= 3; k++ {
			want := fmt.Sprintf("default via 198.18.%d.1 dev wan%d metric %d", 10+k, k, 10*k)
			if !strings.Contains(main, want) {
				t.Errorf("main table lacks %q:\n%s", want, main)
			}
		}
		if strings.Contains(main, "198.19.53") {
			t.Errorf("VPN subnet must only be in table 52:\n%s", main)
		}
		if out := mustExec(t, l, l.Router, "ip", "route", "show", "table", "52"); !strings.Contains(out, "198.19.53.0/24 via 198.19.52.2 dev ts0") {
			t.Errorf("table 52 = %q", out)
		}
		for _, dev := range []string{"all", "default", "lan0", "wan1", "wan3", "ts0"} {
			if v := strings.TrimSpace(mustExec(t, l, l.Router, "cat", "/proc/sys/net/ipv4/conf/"+dev+"/rp_filter")); v != "1" {
				t.Errorf("rp_filter on %s = %s, want 1", dev, v)
			}
		}
		if out := mustExec(t, l, l.Router, "iptables", "-w", "-t", "nat", "-S", "POSTROUTING"); !strings.Contains(out, "-A POSTROUTING -o wan3 -j MASQUERADE") {
			t.Errorf("router nat:\n%s", out)
		}
	})

	t.Run("ClientUsesLowestMetric", func(t *testing.T) {
		if k, err := l.Whoami(l.Client, WhoamiPort); err != nil || k != 1 {
			t.Fatalf("Whoami = %d, %v; want 1", k, err)
		}
		counts, err := l.CountISPs(l.Client, 30, WhoamiPort)
		if err != nil || counts[1] != 30 {
			t.Fatalf("CountISPs = %v, %v; want all 30 on ISP 1", counts, err)
		}
	})

	t.Run("MetricChangeMovesTraffic", func(t *testing.T) {
		restore := preferWAN(t, l, 2)
		k, err := l.Whoami(l.Client, WhoamiPort)
		restore()
		if err != nil || k != 2 {
			t.Fatalf("Whoami after preferring wan2 = %d, %v; want 2", k, err)
		}
		if k, err := l.Whoami(l.Client, WhoamiPort); err != nil || k != 1 {
			t.Fatalf("Whoami after restore = %d, %v; want 1", k, err)
		}
	})

	t.Run("RouterOriginated", func(t *testing.T) {
		if k, err := l.Whoami(l.Router, WhoamiPort); err != nil || k != 1 {
			t.Fatalf("Whoami from router = %d, %v; want 1", k, err)
		}
	})

	t.Run("SlowServer", func(t *testing.T) {
		start := time.Now()
		k, err := l.Whoami(l.Client, SlowPort)
		if err != nil || k != 1 {
			t.Fatalf("slow Whoami = %d, %v", k, err)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("slow server answered after %v, want >= 300ms", d)
		}
	})

	t.Run("UDPEcho", func(t *testing.T) {
		c, err := l.DialUDP(l.Client, "", "198.18.100.1:7")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 1500)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read echo: %v", err)
		}
		got := string(buf[:n])
		remote, payload, _ := strings.Cut(got, " ")
		if payload != "hello" || l.ISPOf(remote) != 1 {
			t.Fatalf("echo = %q, want \"198.18.21.2:<port> hello\"", got)
		}
	})

	t.Run("CarrierDown", func(t *testing.T) {
		if err := l.CarrierDown(1); err != nil {
			t.Fatal(err)
		}
		up, lower, err := l.LinkState(l.Router, "wan1")
		if err != nil || !up || lower {
			t.Errorf("wan1 after CarrierDown: up=%v lower_up=%v err=%v; want admin up without carrier", up, lower, err)
		}
		if out := mustExec(t, l, l.Router, "ip", "link", "show", "wan1"); strings.Contains(out, "LOWER_UP") || !strings.Contains(out, "NO-CARRIER") {
			t.Errorf("ip link show wan1: %s", out)
		}
		if err := l.Heal(1); err != nil {
			t.Fatal(err)
		}
		if _, lower, err := l.LinkState(l.Router, "wan1"); err != nil || !lower {
			t.Errorf("wan1 after Heal: lower_up=%v err=%v", lower, err)
		}
		if k, err := l.Whoami(l.Client, WhoamiPort); err != nil || k != 1 {
			t.Fatalf("Whoami after Heal = %d, %v; want 1", k, err)
		}
	})

	t.Run("Blackhole", func(t *testing.T) {
		if err := l.Blackhole(1); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		k, err := l.Whoami(l.Client, WhoamiPort)
		if err == nil {
			t.Errorf("Whoami through blackholed ISP 1 succeeded via %d", k)
		}
		if d := time.Since(start); d > l.opts.ConnectTimeout+time.Second {
			t.Errorf("blackholed Whoami took %v", d)
		}
		// The gateway itself still answers: only forwarding is dropped.
		mustExec(t, l, l.Router, "ping", "-c", "1", "-W", "1", "-I", "wan1", "198.18.11.1")
		if _, lower, _ := l.LinkState(l.Router, "wan1"); !lower {
			t.Errorf("blackhole must keep carrier")
		}
		if err := l.Heal(1); err != nil {
			t.Fatal(err)
		}
		if k, err := l.Whoami(l.Client, WhoamiPort); err != nil || k != 1 {
			t.Fatalf("Whoami after Heal = %d, %v; want 1", k, err)
		}
	})

	t.Run("LossAndBandwidth", func(t *testing.T) {
		if err := l.Loss(2, 30); err != nil {
			t.Fatal(err)
		}
		if err := l.Bandwidth(2, 20); err != nil {
			t.Fatal(err)
		}
		if err := l.Bandwidth(2, 10); err != nil { // replacing must work
			t.Fatal(err)
		}
		if out := mustExec(t, l, l.ISPs[1].NS, "iptables", "-w", "-S", FaultChain); !strings.Contains(out, "-m statistic --mode random --probability 0.3") &&
			!strings.Contains(out, "-m statistic --mode random --probability 0.2999") {
			t.Errorf("fault chain:\n%s", out)
		}
		for _, dev := range []string{"r0", "i0"} {
			if out := mustExec(t, l, l.ISPs[1].NS, "tc", "qdisc", "show", "dev", dev); !strings.Contains(out, "tbf") || !strings.Contains(out, "10Mbit") {
				t.Errorf("qdisc on %s: %s", dev, out)
			}
		}
		if err := l.Heal(2); err != nil {
			t.Fatal(err)
		}
		if err := l.Heal(2); err != nil { // healing a healthy ISP is fine
			t.Fatal(err)
		}
		if out := mustExec(t, l, l.ISPs[1].NS, "iptables", "-w", "-S", FaultChain); strings.Contains(out, "-A ") {
			t.Errorf("fault chain after Heal:\n%s", out)
		}
		if out := mustExec(t, l, l.ISPs[1].NS, "tc", "qdisc", "show", "dev", "r0"); strings.Contains(out, "tbf") {
			t.Errorf("qdisc after Heal: %s", out)
		}
		if err := l.Loss(2, 0); err == nil {
			t.Error("Loss(2, 0) accepted")
		}
		if err := l.Blackhole(9); err == nil || !strings.Contains(err.Error(), "no ISP 9") {
			t.Errorf("Blackhole(9) = %v", err)
		}
	})

	t.Run("PortForward", func(t *testing.T) {
		stop, err := l.ServeWhoami(l.Client, "198.18.1.2:9000")
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		for i := 0; i < 2; i++ { // second call must not duplicate rules
			if err := l.PortForward(2, 9000); err != nil {
				t.Fatal(err)
			}
		}
		ispNAT := mustExec(t, l, l.ISPs[1].NS, "iptables", "-w", "-t", "nat", "-S", "PREROUTING")
		routerNAT := mustExec(t, l, l.Router, "iptables", "-w", "-t", "nat", "-S", "PREROUTING")
		if strings.Count(ispNAT, "--to-destination 198.18.12.2:9000") != 1 {
			t.Errorf("isp2 nat PREROUTING:\n%s", ispNAT)
		}
		if strings.Count(routerNAT, "-i wan2 -p tcp -m tcp --dport 9000 -j DNAT --to-destination 198.18.1.2:9000") != 1 {
			t.Errorf("router nat PREROUTING:\n%s", routerNAT)
		}
		// Without wanlb, strict rp_filter drops inbound packets on wan2
		// while wan1 is the best default; make wan2 best for the check.
		restore := preferWAN(t, l, 2)
		defer restore()
		remote, err := l.WhoamiAt(l.Internet, "198.18.22.2:9000")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(remote, "198.18.22.1:") {
			t.Errorf("client saw %q, want the internet's address 198.18.22.1", remote)
		}
	})

	t.Run("VPN", func(t *testing.T) {
		stop, err := l.ServeWhoami(l.VPN, "198.19.53.1:80")
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		remote, err := l.WhoamiAt(l.Client, "198.19.53.1:80")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(remote, "198.18.1.2:") {
			t.Errorf("vpn server saw %q, want the client's own address (no masquerade on ts0)", remote)
		}
	})

	t.Run("DialTCP", func(t *testing.T) {
		c, err := l.DialTCP(l.Client, "198.18.100.1:80")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 100)
		n, _ := c.Read(buf)
		if l.ISPOf(string(buf[:n])) != 1 {
			t.Errorf("DialTCP answer %q", buf[:n])
		}
	})

	t.Run("StartIsKilledOnClose", func(t *testing.T) {
		var err error
		if bg, err = l.Start(l.Client, "sleep", "60"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("CloseTearsDown", func(t *testing.T) {
		start := time.Now()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("Close took %v", time.Since(start).Round(time.Millisecond))
		if err := l.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		assertGone(t, l)
		hostCheck(t)
		if bg != nil {
			select {
			case <-bg.done:
			default:
				t.Error("background process still running after Close")
			}
		}
	})
}

func TestTwoLabsAtOnce(t *testing.T) {
	requireRoot(t)
	var (
		wg   sync.WaitGroup
		labs [2]*Lab
		errs [2]error
	)
	for i := range labs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			labs[i], errs[i] = New(Options{ISPs: 2})
		}()
	}
	wg.Wait()
	for i, l := range labs {
		if l != nil {
			t.Cleanup(func() { l.Close() })
		}
		if errs[i] != nil {
			t.Fatalf("New #%d: %v", i, errs[i])
		}
	}
	if labs[0].Prefix == labs[1].Prefix {
		t.Fatalf("both labs use prefix %s", labs[0].Prefix)
	}
	for i, l := range labs {
		if k, err := l.Whoami(l.Client, WhoamiPort); err != nil || k != 1 {
			t.Errorf("lab %d Whoami = %d, %v", i, k, err)
		}
	}
	// A fault in one lab must not leak into the other.
	if err := labs[0].Blackhole(1); err != nil {
		t.Fatal(err)
	}
	if k, err := labs[1].Whoami(labs[1].Client, WhoamiPort); err != nil || k != 1 {
		t.Errorf("lab 1 affected by lab 0's blackhole: %d, %v", k, err)
	}
	for _, l := range labs {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		assertGone(t, l)
	}
	hostCheck(t)
}

func TestNewRejectsBadOptions(t *testing.T) {
	requireRoot(t)
	for _, n := range []int{-1, MaxISPs + 1} {
		if l, err := New(Options{ISPs: n}); err == nil {
			l.Close()
			t.Errorf("New with %d ISPs succeeded", n)
		}
	}
}

func TestNewRemovesStaleNamespaces(t *testing.T) {
	requireRoot(t)
	// An exited but unreaped child stands in for a crashed (SIGKILLed) test
	// process: it is dead, and as a zombie its pid cannot be reused yet.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	for deadline := time.Now().Add(2 * time.Second); pidAlive(cmd.Process.Pid); {
		if time.Now().After(deadline) {
			t.Fatal("child did not exit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stale := fmt.Sprintf("wlb%dx1-router", cmd.Process.Pid)
	if out, err := exec.Command("ip", "netns", "add", stale).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", stale, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", stale).Run() })
	l := newLab(t, Options{ISPs: 1})
	for _, n := range netnsNames(t) {
		if n == stale {
			t.Errorf("stale namespace %s survived New", n)
		}
	}
	if k, err := l.Whoami(l.Client, WhoamiPort); err != nil || k != 1 {
		t.Errorf("1-ISP lab Whoami = %d, %v", k, err)
	}
}

func TestDo(t *testing.T) {
	requireRoot(t)
	l := newLab(t, Options{ISPs: 1})

	runtime.LockOSThread()
	host, err := netns.Get()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()

	var router netns.NsHandle
	if err := l.Do(l.Router, func() error {
		var err error
		router, err = netns.Get()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer router.Close()
	if router.Equal(host) {
		t.Fatal("Do did not switch namespace")
	}
	// Children exec'd inside Do inherit the namespace; callers rely on this
	// to run iptables-restore in the router.
	if err := l.Do(l.Router, func() error {
		out, err := exec.Command("ip", "-o", "addr", "show", "dev", "wan1").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "198.18.11.2/24") {
			return fmt.Errorf("ip addr in router via Do: %v: %s", err, out)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if err := l.Do(l.Router, func() error { return fmt.Errorf("boom") }); err == nil || err.Error() != "boom" {
		t.Errorf("Do error = %v, want boom", err)
	}
	if err := l.Do(l.Router, func() error { panic("oops") }); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("Do panic = %v", err)
	}
	if err := l.Do("wlb-no-such-ns", func() error { return nil }); err == nil {
		t.Error("Do in a missing namespace succeeded")
	}
	// Every thread the scheduler hands out afterwards must be in the host
	// namespace again.
	for i := 0; i < 20; i++ {
		if err := l.Do(l.Client, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < 2*runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cur, err := netns.Get()
			if err != nil {
				t.Error(err)
				return
			}
			defer cur.Close()
			if !cur.Equal(host) {
				t.Error("a thread was left in a lab namespace")
			}
		}()
	}
	wg.Wait()
}
