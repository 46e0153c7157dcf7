package lab_test

// Integration test of package probe: probes of every kind sent from the
// router namespace through one WAN must leave through that WAN, although the
// router's main table prefers wan1 and no fwmark rule exists, and must fail
// within their timeout when that WAN's ISP blackholes them.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
	"github.com/wanlb/wanlb/internal/probe"
)

// probeLabTargets are one target of each kind on the lab's server address.
var probeLabTargets = []string{
	"198.18.100.1",
	"dns://198.18.100.1/probe.test",
	"http://198.18.100.1:8080/health",
	"tcp://198.18.100.1:80",
}

// probeLabVia is how WAN k's probes leave: wanlb's mark for WAN k (mark
// index k in the default mark_mask 0x3f000000) and the lab's device.
func probeLabVia(k int) probe.Via {
	return probe.Via{Mark: uint32(k) << 24, Device: fmt.Sprintf("wan%d", k)}
}

func TestProbeLeavesThroughItsWAN(t *testing.T) {
	labtest.RequireRoot(t)
	l, err := lab.New(lab.Options{ISPs: 3})
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("lab close: %v", err)
		}
	})
	probeLabDNS(t, l)
	probeLabHTTP(t, l)
	probeLabLooseRPFilter(t, l)
	probeLabCounters(t, l)

	var targets []config.Target
	for _, s := range probeLabTargets {
		tg, err := config.ParseTarget(s)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}

	for _, k := range []int{2, 3} {
		via := probeLabVia(k)
		t.Run(via.Device, func(t *testing.T) {
			probeLabResetCounters(t, l)
			for _, tg := range targets {
				if r := probeLabRun(t, l, via, tg, time.Second); !r.OK {
					t.Errorf("%s via %s: %v", tg.Raw, via.Device, r.Err)
				} else {
					t.Logf("%s via %s: OK in %v", tg.Raw, via.Device, r.RTT)
				}
			}
			req, rep := probeLabReadCounters(t, l)
			t.Logf("packets to/from 198.18.100.1 per ISP: requests %v replies %v", req, rep)
			for i := 1; i <= len(l.ISPs); i++ {
				switch {
				case i == k && req[i] < len(targets):
					t.Errorf("isp%d forwarded %d requests, want at least one per probe (%d)", i, req[i], len(targets))
				case i == k && rep[i] < len(targets):
					t.Errorf("isp%d forwarded %d replies, want at least one per probe (%d)", i, rep[i], len(targets))
				case i != k && req[i]+rep[i] != 0:
					t.Errorf("isp%d forwarded %d requests and %d replies of probes via wan%d, want none", i, req[i], rep[i], k)
				}
			}
		})
	}

	// The control: with the mark alone and no fwmark rule, the main table
	// routes everything through wan1. This is what makes the counts above
	// proof of the device binding rather than of routing.
	t.Run("MarkOnly", func(t *testing.T) {
		probeLabResetCounters(t, l)
		via := probe.Via{Mark: probeLabVia(2).Mark}
		for _, tg := range targets {
			if r := probeLabRun(t, l, via, tg, time.Second); !r.OK {
				t.Errorf("%s with mark only: %v", tg.Raw, r.Err)
			}
		}
		req, rep := probeLabReadCounters(t, l)
		t.Logf("mark 0x2000000 without device: requests %v replies %v", req, rep)
		if req[1] < len(targets) || req[2]+req[3] != 0 {
			t.Errorf("mark-only probes: requests per ISP %v, want all through isp1", req)
		}
	})

	t.Run("Blackhole", func(t *testing.T) {
		if err := l.Blackhole(2); err != nil {
			t.Fatal(err)
		}
		healed := false
		defer func() {
			if !healed {
				_ = l.Heal(2)
			}
		}()
		const timeout = time.Second
		// All probes of both WANs at once: a blackholed WAN must not delay
		// the other, and concurrent ICMP probes must each bind their own
		// socket.
		type outcome struct {
			k    int
			tg   config.Target
			r    probe.Result
			took time.Duration
		}
		var mu sync.Mutex
		var outs []outcome
		var wg sync.WaitGroup
		for _, k := range []int{2, 3} {
			for _, tg := range targets {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					r := probeLabRun(t, l, probeLabVia(k), tg, timeout)
					mu.Lock()
					outs = append(outs, outcome{k, tg, r, time.Since(start)})
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		for _, o := range outs {
			switch {
			case o.k == 2 && o.r.OK:
				t.Errorf("%s via blackholed wan2 succeeded", o.tg.Raw)
			case o.k == 2 && !errors.Is(o.r.Err, probe.ErrTimeout):
				t.Errorf("%s via blackholed wan2: %v, want a timeout", o.tg.Raw, o.r.Err)
			// The slack covers entering the namespace with 7 other
			// probes on a busy machine; a probe that outlives its
			// deadline waits for SYN or DNS retries, seconds.
			case o.k == 2 && o.took > timeout+700*time.Millisecond:
				t.Errorf("%s via blackholed wan2 took %v, timeout %v", o.tg.Raw, o.took, timeout)
			case o.k == 3 && !o.r.OK:
				t.Errorf("%s via wan3 while wan2 is blackholed: %v", o.tg.Raw, o.r.Err)
			}
			if o.k == 2 {
				t.Logf("blackholed: %v after %v", o.r.Err, o.took.Round(time.Millisecond))
			}
		}

		if err := l.Heal(2); err != nil {
			t.Fatal(err)
		}
		healed = true
		for _, tg := range targets {
			if r := probeLabRun(t, l, probeLabVia(2), tg, timeout); !r.OK {
				t.Errorf("%s via healed wan2: %v", tg.Raw, r.Err)
			}
		}
	})
}

// probeLabRun runs one probe from the router namespace.
func probeLabRun(t *testing.T, l *lab.Lab, via probe.Via, tg config.Target, timeout time.Duration) probe.Result {
	var r probe.Result
	err := l.Do(l.Router, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		r = probe.Probe(ctx, via, tg)
		return nil
	})
	if err != nil {
		t.Errorf("probe %s in router: %v", tg.Raw, err)
	}
	return r
}

// probeLabDNS runs dnsmasq on 198.18.100.1:53 in the internet namespace,
// answering probe.test and nothing else, and waits until it answers.
func probeLabDNS(t *testing.T, l *lab.Lab) {
	t.Helper()
	p, err := l.Start(l.Internet, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
		"--bind-interfaces", "--listen-address=198.18.100.1", "--port=53",
		"--address=/probe.test/198.18.100.1", "--pid-file", "--user=root", "--conf-file=/dev/null")
	if err != nil {
		t.Fatalf("dnsmasq: %v", err)
	}
	tg, err := config.ParseTarget("dns://198.18.100.1/probe.test")
	if err != nil {
		t.Fatal(err)
	}
	// Asked from inside the internet namespace: no ISP sees these.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var r probe.Result
		_ = l.Do(l.Internet, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			r = probe.Probe(ctx, probe.Via{}, tg)
			return nil
		})
		if r.OK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnsmasq does not answer: %v; output:\n%s", r.Err, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probeLabHTTP serves HTTP on 198.18.100.1:8080 in the internet namespace
// (the whoami server on port 80 does not speak HTTP).
func probeLabHTTP(t testing.TB, l *lab.Lab) {
	t.Helper()
	var ln net.Listener
	err := l.Do(l.Internet, func() error {
		var err error
		ln, err = net.Listen("tcp", "198.18.100.1:8080")
		return err
	})
	if err != nil {
		t.Fatalf("HTTP server: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, r.RemoteAddr)
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
}

// probeLabLooseRPFilter relaxes the router's reverse-path filter for this
// test. Strict mode (the lab's default) drops replies arriving on wan2 and
// wan3 while the main table's best route to the server is wan1; in
// production wanlb's data plane makes them pass (POSTROUTING gives a
// connection leaving wan<k> WAN k's connmark, PREROUTING restores it, and
// src_valid_mark lets the check use that WAN's table). This test leaves the
// data plane out on purpose: it shows that the probe sockets alone pick
// their WAN.
func probeLabLooseRPFilter(t *testing.T, l *lab.Lab) {
	t.Helper()
	for _, dev := range []string{"all", "wan1", "wan2", "wan3"} {
		if _, err := l.Exec(l.Router, "sysctl", "-q", "-w", "net.ipv4.conf."+dev+".rp_filter=2"); err != nil {
			t.Fatal(err)
		}
	}
}

// probeLabCounters inserts, in each ISP's FORWARD chain, two rules without
// a target that only count packets to and from the server: they decide
// nothing, so the lab's fault chain still applies after them.
func probeLabCounters(t *testing.T, l *lab.Lab) {
	t.Helper()
	for _, isp := range l.ISPs {
		// A reset is not counted: the router answers a server's late
		// segment for a socket already gone with one, routed by the main
		// table (no socket, so no mark or device), and it is no probe.
		for _, rule := range [][]string{
			{"-d", "198.18.100.1", "!", "-p", "tcp", "-m", "comment", "--comment", "probe-lab-req"},
			{"-d", "198.18.100.1", "-p", "tcp", "!", "--tcp-flags", "RST", "RST", "-m", "comment", "--comment", "probe-lab-req"},
			{"-s", "198.18.100.1", "-m", "comment", "--comment", "probe-lab-rep"},
		} {
			if _, err := l.Exec(isp.NS, "iptables", append([]string{"-w", "-I", "FORWARD"}, rule...)...); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// probeLabResetCounters zeroes the counters once the previous step's TCP
// connections have finished closing (the server's FIN after a probe
// closed, late retransmissions), so they are not counted against the next
// step.
func probeLabResetCounters(t *testing.T, l *lab.Lab) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := l.Exec(l.Router, "ss", "-Htn", "state", "established", "state", "syn-sent", "state", "fin-wait-1",
			"state", "fin-wait-2", "state", "close-wait", "state", "last-ack", "state", "closing", "dst", "198.18.100.1")
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(out) == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the router's connections to the server did not close within 10s:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, isp := range l.ISPs {
		if _, err := l.Exec(isp.NS, "iptables", "-w", "-Z", "FORWARD"); err != nil {
			t.Fatal(err)
		}
	}
}

// probeLabCounterRe matches a counting rule's line of `iptables -L -v -x
// -n`: packets first, the comment last.
var probeLabCounterRe = regexp.MustCompile(`^\s*(\d+)\s+\d+\s.*/\* (probe-lab-re[qp]) \*/`)

// probeLabReadCounters returns, per ISP index, the packets forwarded to
// (requests) and from (replies) the server since the last reset.
func probeLabReadCounters(t *testing.T, l *lab.Lab) (req, rep map[int]int) {
	t.Helper()
	req, rep = map[int]int{}, map[int]int{}
	for _, isp := range l.ISPs {
		out, err := l.Exec(isp.NS, "iptables", "-w", "-L", "FORWARD", "-v", "-x", "-n")
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, line := range strings.Split(out, "\n") {
			m := probeLabCounterRe.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n, _ := strconv.Atoi(m[1])
			if m[2] == "probe-lab-req" {
				req[isp.Index] += n
			} else {
				rep[isp.Index] += n
			}
			found++
		}
		if found != 3 {
			t.Fatalf("isp%d: found %d counting rules, want 3:\n%s", isp.Index, found, out)
		}
	}
	return req, rep
}
