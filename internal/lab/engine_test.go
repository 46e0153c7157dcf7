package lab_test

// Integration tests of the core engine: config -> plan -> data plane in the
// router namespace of a real lab, judged by real connections.

import (
	"bufio"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
	"github.com/wanlb/wanlb/internal/plan"
	"github.com/wanlb/wanlb/internal/uciconf"
)

// engine is a lab plus wanlb's data plane running in its router namespace.
type engine struct {
	t    testing.TB
	l    *lab.Lab
	dp   *dataplane.DataPlane
	cfg  *config.Config
	prev *plan.Plan
}

// wanConfig is the UCI text for WANs wan1..wanN on the lab's devices.
func wanConfig(l *lab.Lab, weights ...int) string {
	var b strings.Builder
	for i, isp := range l.ISPs {
		w := 1
		if i < len(weights) {
			w = weights[i]
		}
		if w == 0 {
			continue
		}
		fmt.Fprintf(&b, "config wan 'wan%d'\n\toption device '%s'\n\toption gateway '%s'\n\toption weight '%d'\n\toption detection 'always_online'\n\n",
			isp.Index, isp.RouterDev, isp.Gateway, w)
	}
	return b.String()
}

func newEngine(t testing.TB, opts lab.Options) *engine {
	t.Helper()
	return newEngineWith(t, opts, "auto")
}

// eachBackend runs a lab test once per firewall backend, as subtests: the
// default (nftables) and the legacy one for routers without nf_tables.
func eachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range []string{dataplane.BackendNFTables, dataplane.BackendIPTables} {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

// newEngineWith is newEngine with a firewall backend setting
// (globals.backend).
func newEngineWith(t testing.TB, opts lab.Options, backend string) *engine {
	t.Helper()
	labtest.RequireRoot(t)
	l, err := lab.New(opts)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	e := &engine{t: t, l: l}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("lab close: %v", err)
		}
	})
	err = l.Do(l.Router, func() error {
		dp, closeFn, err := dataplane.NewKernel(backend)
		if err != nil {
			return err
		}
		t.Cleanup(closeFn)
		e.dp = dp
		return nil
	})
	if err != nil {
		t.Fatalf("data plane: %v", err)
	}
	return e
}

// configure loads UCI text as the running config.
func (e *engine) configure(text string) {
	e.t.Helper()
	f, err := uciconf.Parse(strings.NewReader(text))
	if err != nil {
		e.t.Fatalf("config: %v", err)
	}
	c, ps := config.FromUCI(f)
	if c == nil {
		e.t.Fatalf("config problems: %v", ps)
	}
	e.cfg = c
}

// plan computes the plan with the given WANs online (1-based ISP indexes;
// none listed = all).
func (e *engine) plan(online ...int) *plan.Plan {
	states := map[string]plan.WANState{}
	for _, isp := range e.l.ISPs {
		up := len(online) == 0
		for _, k := range online {
			up = up || k == isp.Index
		}
		st := plan.WANState{Device: isp.RouterDev, Gateway: isp.Gateway, Carrier: true, Online: up}
		// The IPv6 side as the config names it (gateway6), as the daemon
		// would take it.
		if w, ok := e.cfg.WAN(fmt.Sprintf("wan%d", isp.Index)); ok && w.IPv6 && w.Gateway6.IsValid() {
			st.Has6, st.Device6, st.Gateway6 = true, isp.RouterDev, w.Gateway6
		}
		states[fmt.Sprintf("wan%d", isp.Index)] = st
	}
	// The lab's WANs are always_online in most configs; offline here means
	// "probes failed", so switch detection to manual for the plan.
	c := *e.cfg
	c.WANs = append([]config.WAN(nil), e.cfg.WANs...)
	for i := range c.WANs {
		c.WANs[i].Detection = config.DetectManual
	}
	return plan.Compute(plan.Input{Config: &c, States: states, Prev: e.prev, Now: time.Now()})
}

// apply applies the plan for the given online WANs in the router namespace.
func (e *engine) apply(online ...int) (*plan.Plan, dataplane.Result) {
	e.t.Helper()
	p := e.plan(online...)
	var res dataplane.Result
	err := e.l.Do(e.l.Router, func() error {
		var err error
		res, err = e.dp.Apply(p)
		return err
	})
	if err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	e.prev = p
	return p, res
}

// shares opens n new connections from ns and returns each ISP's fraction.
func (e *engine) shares(ns string, n int) map[int]float64 {
	e.t.Helper()
	counts, err := e.l.CountISPs(ns, n, 80)
	if err != nil {
		e.t.Fatalf("connections from %s: %v", ns, err)
	}
	if counts[0] > 0 {
		e.t.Errorf("%d of %d connections from %s failed", counts[0], n, ns)
	}
	out := map[int]float64{}
	for k, c := range counts {
		out[k] = float64(c) / float64(n)
	}
	return out
}

func TestWeightsThreeToOne(t *testing.T) { eachBackend(t, testWeightsThreeToOne) }

func testWeightsThreeToOne(t *testing.T, backend string) {
	e := newEngineWith(t, lab.Options{ISPs: 2}, backend)
	e.configure(wanConfig(e.l, 3, 1))
	_, res := e.apply()
	if !res.Restored || res.RulesAdded == 0 {
		t.Fatalf("first apply changed nothing: %+v", res)
	}
	if _, res := e.apply(); res.Changed() {
		t.Errorf("re-applying the same plan changed the kernel: %+v", res)
	}
	const n = 2000
	for _, ns := range []string{e.l.Client, e.l.Router} {
		got := e.shares(ns, n)
		t.Logf("%s: %d connections: wan1 %.3f, wan2 %.3f (target 0.75, 0.25)", ns, n, got[1], got[2])
		// 0.045 is 4.6 standard deviations of a binomial(2000, 0.75)
		// share: four such checks fail by chance once in 80,000 runs.
		if math.Abs(got[1]-0.75) > 0.045 || math.Abs(got[2]-0.25) > 0.045 {
			t.Errorf("%s: shares wan1 %.3f wan2 %.3f, want 0.75 and 0.25 within 0.045", ns, got[1], got[2])
		}
	}
}

// echoServer answers each TCP connection with the remote address, then
// echoes lines: a long-lived connection to watch.
func echoServer(t *testing.T, l *lab.Lab, addr string) {
	var ln net.Listener
	err := l.Do(l.Internet, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fmt.Fprintln(c, c.RemoteAddr())
				s := bufio.NewScanner(c)
				for s.Scan() {
					fmt.Fprintln(c, s.Text())
				}
			}()
		}
	}()
}

func TestWANLeavesLongConnectionStays(t *testing.T) { eachBackend(t, testWANLeavesLongConnectionStays) }

func testWANLeavesLongConnectionStays(t *testing.T, backend string) {
	e := newEngineWith(t, lab.Options{ISPs: 3}, backend)
	e.configure(wanConfig(e.l, 1, 1, 1))
	e.apply()
	echoServer(t, e.l, "198.18.100.1:9")

	// A long-lived connection that is not on wan1.
	var conn net.Conn
	var r *bufio.Reader
	var isp int
	for i := 0; i < 50 && (isp == 0 || isp == 1); i++ {
		c, err := e.l.DialTCP(e.l.Client, "198.18.100.1:9")
		if err != nil {
			t.Fatal(err)
		}
		r = bufio.NewReader(c)
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if isp = e.l.ISPOf(strings.TrimSpace(line)); isp == 1 {
			c.Close()
			continue
		}
		conn = c
	}
	if conn == nil {
		t.Fatal("no connection landed on wan2 or wan3 in 50 tries")
	}
	defer conn.Close()

	for i := 0; i < 50; i++ {
		// wan1 leaves; the others alternate weights so that every apply
		// really rewrites the chains.
		e.configure(wanConfig(e.l, 1, 1+i%2, 1))
		if _, res := e.apply(2, 3); !res.Restored {
			t.Fatalf("re-apply %d did not rewrite the rules", i)
		}
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		msg := fmt.Sprintf("ping %d", i)
		if _, err := fmt.Fprintln(conn, msg); err != nil {
			t.Fatalf("long connection on wan%d broke at re-apply %d: %v", isp, i, err)
		}
		if got, err := r.ReadString('\n'); err != nil || strings.TrimSpace(got) != msg {
			t.Fatalf("long connection on wan%d broke at re-apply %d: %q %v", isp, i, got, err)
		}
	}
	got := e.shares(e.l.Client, 300)
	if got[1] != 0 {
		t.Errorf("%.3f of new connections still used wan1 after it left the plan", got[1])
	}
	if got[2] == 0 || got[3] == 0 {
		t.Errorf("new connections did not use both remaining WANs: %v", got)
	}
}

// udpISP sends one datagram from a fresh socket bound to port (a new
// connection) to the echo server and returns the ISP it went through, 0 when
// nothing came back within wait.
func udpISP(t *testing.T, l *lab.Lab, ns string, port int, wait time.Duration) int {
	c, err := l.DialUDP(ns, fmt.Sprintf(":%d", port), "198.18.100.1:7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return echoWithin(l, c, wait)
}

func TestPolicyRulePinsAndFallsBack(t *testing.T) { eachBackend(t, testPolicyRulePinsAndFallsBack) }

func testPolicyRulePinsAndFallsBack(t *testing.T, backend string) {
	e := newEngineWith(t, lab.Options{ISPs: 3}, backend)
	rule := func(fallback int) string {
		return wanConfig(e.l, 1, 1, 1) + fmt.Sprintf("config rule 'echo'\n\toption proto 'udp'\n\toption dest_port '7'\n\tlist wan 'wan3'\n\toption fallback '%d'\n", fallback)
	}
	// Each phase sends from its own source ports. A flow keeps its WAN for
	// as long as its conntrack entry lives, as in any connection-tracking
	// balancer; a random port could reuse the tuple of an earlier phase's
	// flow and take that flow's WAN with it.
	const phase1, phase2, phase3 = 20000, 21000, 22000
	e.configure(rule(1))
	e.apply()
	for i := 0; i < 20; i++ {
		if k := udpISP(t, e.l, e.l.Client, phase1+i, 3*time.Second); k != 3 {
			t.Fatalf("flow %d matching the rule went through wan%d, want wan3", i, k)
		}
	}
	// TCP is not matched by the rule: it is balanced over all three.
	if got := e.shares(e.l.Client, 150); got[1] == 0 || got[2] == 0 {
		t.Errorf("TCP should be balanced: %v", got)
	}

	e.apply(1, 2) // wan3 offline, fallback 1
	seen := map[int]int{}
	for i := 0; i < 20; i++ {
		seen[udpISP(t, e.l, e.l.Client, phase2+i, 3*time.Second)]++
	}
	if seen[0] > 0 || seen[3] > 0 {
		t.Errorf("with fallback 1 and wan3 offline, flows went: %v", seen)
	}

	e.configure(rule(0))
	e.apply(1, 2) // fallback 0: dropped
	for i := 0; i < 5; i++ {
		if k := udpISP(t, e.l, e.l.Client, phase3+i, time.Second); k != 0 { // nothing may come back
			t.Fatalf("with fallback 0 and wan3 offline a flow went through wan%d", k)
		}
	}
}

// dialFrom opens a TCP connection from a given source address in ns and
// returns the ISP the server saw.
func dialFrom(l *lab.Lab, ns, src, dst string) (int, error) {
	var k int
	err := l.Do(ns, func() error {
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", dst)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		k = l.ISPOf(strings.TrimSpace(line))
		return nil
	})
	return k, err
}

func TestAppOptimizedKeepsPairs(t *testing.T) { eachBackend(t, testAppOptimizedKeepsPairs) }

func testAppOptimizedKeepsPairs(t *testing.T, backend string) {
	e := newEngineWith(t, lab.Options{ISPs: 3}, backend)
	e.configure("config globals 'globals'\n\toption app_optimized '1'\n\n" + wanConfig(e.l, 1, 1, 1))
	e.apply()

	// 8 client addresses x 4 server addresses = 32 pairs.
	var srcs, dsts []string
	for i := 0; i < 8; i++ {
		a := fmt.Sprintf("198.18.1.%d", 10+i)
		if _, err := e.l.Exec(e.l.Client, "ip", "addr", "add", a+"/24", "dev", "lan0"); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, a)
	}
	for i := 0; i < 4; i++ {
		a := fmt.Sprintf("198.18.100.%d", 10+i)
		if _, err := e.l.Exec(e.l.Internet, "ip", "addr", "add", a+"/32", "dev", "lo"); err != nil {
			t.Fatal(err)
		}
		stop, err := e.l.ServeWhoami(e.l.Internet, a+":80")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		dsts = append(dsts, a+":80")
	}

	// 200 connections of one pair all use one WAN.
	first, err := dialFrom(e.l, e.l.Client, srcs[0], dsts[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if k, err := dialFrom(e.l, e.l.Client, srcs[0], dsts[0]); err != nil || k != first {
			t.Fatalf("connection %d of one pair used wan%d (%v), the pair's first used wan%d", i, k, err, first)
		}
	}

	wanOf := func() map[string]int {
		m := map[string]int{}
		for _, s := range srcs {
			for _, d := range dsts {
				k, err := dialFrom(e.l, e.l.Client, s, d)
				if err != nil {
					t.Fatalf("%s -> %s: %v", s, d, err)
				}
				m[s+">"+d] = k
			}
		}
		return m
	}
	before := wanOf()
	perWAN := map[int]int{}
	for _, k := range before {
		perWAN[k]++
	}
	t.Logf("pairs per WAN with 3 WANs: %v", perWAN)
	if perWAN[1] == 0 || perWAN[2] == 0 || perWAN[3] == 0 {
		t.Fatalf("32 pairs did not spread over all three WANs: %v", perWAN)
	}

	e.apply(1, 3) // wan2 leaves
	after := wanOf()
	moved := 0
	for pair, k := range before {
		switch {
		case k != 2 && after[pair] != k:
			t.Errorf("pair %s was on wan%d, moved to wan%d when wan2 left", pair, k, after[pair])
		case k == 2 && after[pair] == 2:
			t.Errorf("pair %s stayed on wan2 after it left", pair)
		case k == 2:
			moved++
		}
	}
	t.Logf("%d pairs moved off wan2; the other %d kept their WAN", moved, len(before)-moved)
}

func TestPortForwardRepliesThroughArrivalWAN(t *testing.T) {
	eachBackend(t, testPortForwardRepliesThroughArrivalWAN)
}

func testPortForwardRepliesThroughArrivalWAN(t *testing.T, backend string) {
	e := newEngineWith(t, lab.Options{ISPs: 3}, backend)
	e.configure(wanConfig(e.l, 1, 1, 1))
	if err := e.l.PortForward(2, 9000); err != nil {
		t.Fatal(err)
	}
	stop, err := e.l.ServeWhoami(e.l.Client, "198.18.1.2:9000")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	target := e.l.ISPs[1].PublicAddr.String() + ":9000"

	// Without wanlb the reply follows the main table out of wan1 and the
	// connection fails: the test can tell the difference.
	if _, err := e.l.WhoamiAt(e.l.Internet, target); err == nil {
		t.Fatal("port forward through wan2 worked without wanlb; the lab proves nothing")
	}
	e.apply()
	for i := 0; i < 20; i++ {
		if _, err := e.l.WhoamiAt(e.l.Internet, target); err != nil {
			t.Fatalf("connection %d arriving on wan2 was not answered through wan2: %v", i, err)
		}
	}
}

func TestStrictRPFilterEveryWAN(t *testing.T) {
	e := newEngine(t, lab.Options{ISPs: 3})
	out, err := e.l.Exec(e.l.Router, "sysctl", "-n", "net.ipv4.conf.all.rp_filter")
	if err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("router rp_filter is %q (%v), want strict (1)", out, err)
	}
	e.configure(wanConfig(e.l, 1, 1, 1))
	e.apply()
	got := e.shares(e.l.Client, 300)
	for k := 1; k <= 3; k++ {
		if got[k] < 0.2 {
			t.Errorf("wan%d carried %.3f of connections under strict rp_filter", k, got[k])
		}
	}
	// Why src_valid_mark matters: without it replies on wan2/wan3 fail the
	// reverse-path check.
	if _, err := e.l.Exec(e.l.Router, "sysctl", "-w", "net.ipv4.conf.all.src_valid_mark=0"); err != nil {
		t.Fatal(err)
	}
	counts, _ := e.l.CountISPs(e.l.Client, 10, 80)
	if counts[0] == 0 {
		t.Errorf("without src_valid_mark no connection failed: %v; the check above proves nothing", counts)
	}
	e.apply() // every apply re-asserts src_valid_mark
	if counts, _ := e.l.CountISPs(e.l.Client, 30, 80); counts[0] > 0 {
		t.Errorf("after re-apply %d connections still failed", counts[0])
	}
}

func TestVPNTableKeepsWinning(t *testing.T) {
	e := newEngine(t, lab.Options{ISPs: 2, VPN: true})
	stop, err := e.l.ServeWhoami(e.l.VPN, e.l.VPNServerAddr().String()+":80")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	e.configure(wanConfig(e.l, 1, 1))
	e.apply()
	target := e.l.VPNServerAddr().String() + ":80"
	for _, ns := range []string{e.l.Client, e.l.Router} {
		for i := 0; i < 20; i++ {
			if _, err := e.l.WhoamiAt(ns, target); err != nil {
				t.Fatalf("from %s, connection %d to the VPN subnet failed with wanlb's rules: %v", ns, i, err)
			}
		}
	}
	// The internet is still balanced meanwhile.
	if got := e.shares(e.l.Client, 100); got[1] == 0 || got[2] == 0 {
		t.Errorf("internet traffic not balanced: %v", got)
	}
}

var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "wanlb-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "wanlb")
	// Built as it ships (stripped, static), so footprint figures are real.
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "nethttpomithttp2", "-gcflags=all=-l", "-ldflags", "-s -w", "-o", bin, "github.com/wanlb/wanlb/cmd/wanlb")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})
