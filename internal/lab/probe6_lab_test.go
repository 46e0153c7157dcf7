package lab_test

// Package probe over IPv6: a probe of every kind (ICMPv6 echo, DNS,
// HTTP, TCP) to an IPv6 target leaves through the WAN whose device it is
// bound to, although the router's main table prefers wan1 and no fwmark
// rule exists, and fails within its timeout when that WAN's ISP drops
// IPv6.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
	"github.com/wanlb/wanlb/internal/probe"
)

func TestProbeIPv6LeavesThroughItsWAN(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 3, IPv6: true})
	server := l.ServerAddr6().String()
	if _, err := l.Start(l.Internet, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
		"--bind-interfaces", "--listen-address="+server, "--port=53",
		"--address=/probe.test/198.18.100.1", "--pid-file", "--user=root", "--conf-file=/dev/null"); err != nil {
		t.Fatalf("dnsmasq: %v", err)
	}
	var ln net.Listener
	if err := l.Do(l.Internet, func() (err error) {
		ln, err = net.Listen("tcp", "["+server+"]:8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, r.RemoteAddr) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	var targets []config.Target
	for _, s := range []string{server, "dns://[" + server + "]/probe.test", "http://[" + server + "]:8080/health", "tcp://[" + server + "]:80"} {
		tg, err := config.ParseTarget(s)
		if err != nil || !tg.Is6() {
			t.Fatalf("%s: %v", s, err)
		}
		targets = append(targets, tg)
	}
	run := func(via probe.Via, tg config.Target, timeout time.Duration) (probe.Result, time.Duration) {
		var r probe.Result
		start := time.Now()
		if err := l.Do(l.Router, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			r = probe.Probe(ctx, via, tg)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return r, time.Since(start)
	}
	// dnsmasq starts in the background: wait until it answers through wan2.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if r, _ := run(probeLabVia(2), targets[1], 200*time.Millisecond); r.OK {
			break
		}
		if time.Now().After(deadline) {
			r, _ := run(probeLabVia(2), targets[1], time.Second)
			r3, _ := run(probeLabVia(2), targets[3], time.Second)
			t.Fatalf("dnsmasq does not answer over IPv6: %v; tcp: %v", r.Err, r3.Err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The main table's IPv6 route (wan1) is dead: a probe that followed it
	// instead of its device would fail.
	if err := l.Blackhole6(1); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{2, 3} {
		for _, tg := range targets {
			if r, _ := run(probeLabVia(k), tg, time.Second); !r.OK {
				t.Errorf("%s via wan%d: %v", tg.Raw, k, r.Err)
			}
		}
	}
	// The control: the mark alone (no fwmark rule) follows the main table
	// into ISP 1's blackhole.
	for _, tg := range targets {
		if r, _ := run(probe.Via{Mark: probeLabVia(2).Mark}, tg, 300*time.Millisecond); r.OK {
			t.Errorf("%s with the mark only got through: the test proves nothing", tg.Raw)
		}
	}

	// wan2's ISP drops IPv6: its probes fail within their timeout, wan3's
	// still work.
	if err := l.Blackhole6(2); err != nil {
		t.Fatal(err)
	}
	const timeout = 500 * time.Millisecond
	for _, tg := range targets {
		if r, took := run(probeLabVia(2), tg, timeout); r.OK || took > timeout+500*time.Millisecond {
			t.Errorf("%s via blackholed wan2: OK %v after %v, want a failure within %v", tg.Raw, r.OK, took, timeout)
		}
		if r, _ := run(probeLabVia(3), tg, time.Second); !r.OK {
			t.Errorf("%s via wan3: %v", tg.Raw, r.Err)
		}
	}
}
