package webui

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/labtest"
)

// nsThread is one OS thread inside a network namespace of its own, where
// every /64 in prefixes is local (AnyIP), so a test can bind any address
// of them. Sockets made by do's functions stay in the namespace.
type nsThread struct{ work chan func() }

func newNSThread(t *testing.T, prefixes ...string) *nsThread {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		// Under qemu-user (make qemu) netlink requests fail with EINVAL;
		// the limiter's logic is arch-independent and runs there anyway.
		t.Skipf("network namespace tests run natively only (GOARCH=%s)", runtime.GOARCH)
	}
	labtest.RequireRoot(t)
	th := &nsThread{work: make(chan func())}
	ready := make(chan error)
	go func() {
		// Never unlocked: when the goroutine ends the thread ends with
		// it, so no other goroutine ever runs in the namespace.
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			ready <- fmt.Errorf("new netns: %w", err)
			return
		}
		defer ns.Close()
		ready <- setupAnyIP(prefixes)
		for f := range th.work {
			f()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(th.work) })
	return th
}

// setupAnyIP brings lo up and routes each prefix to it as local; binding
// an address that is routed but not assigned needs ip_nonlocal_bind (set
// for this namespace only: the thread opens the sysctl inside it).
func setupAnyIP(prefixes []string) error {
	if err := os.WriteFile("/proc/sys/net/ipv6/ip_nonlocal_bind", []byte("1"), 0); err != nil {
		return err
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return err
	}
	for _, p := range prefixes {
		dst, err := netlink.ParseIPNet(p)
		if err != nil {
			return err
		}
		r := &netlink.Route{LinkIndex: lo.Attrs().Index, Dst: dst, Type: unix.RTN_LOCAL, Table: unix.RT_TABLE_LOCAL, Scope: netlink.SCOPE_HOST}
		if err := netlink.RouteAdd(r); err != nil {
			return fmt.Errorf("local route %s: %w", p, err)
		}
	}
	return nil
}

func (th *nsThread) do(f func()) {
	done := make(chan struct{})
	th.work <- func() { defer close(done); f() }
	<-done
}

// postFrom sends a login over conn (already connected from its source
// address) and returns the status.
func postFrom(conn net.Conn, host, body string) (int, error) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := fmt.Sprintf("POST /api/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", host, len(body), body)
	if _, err := io.WriteString(conn, req); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestIPv6NeighboursShareALimit: an IPv6 host picks a new address of its
// /64 for every guess; all of them together get 5 guesses a minute, even
// sent at once. Another /64 keeps its own.
func TestIPv6NeighboursShareALimit(t *testing.T) {
	const (
		serverNet  = "2001:db8:77::/64"
		attackNet  = "2001:db8:78::/64"
		otherNet   = "2001:db8:79::/64"
		neighbours = 200
	)
	th := newNSThread(t, serverNet, attackNet, otherNet)
	hash, err := auth.HashSHA512Crypt(rootPW)
	if err != nil {
		t.Fatal(err)
	}
	ls := newLiveServer(t, config.UI{Auth: "password", PasswordHash: hash, SessionTimeout: time.Hour}, nil)
	// Serve the same handler on a listener inside the namespace.
	var ln net.Listener
	th.do(func() { ln, err = net.Listen("tcp", "[2001:db8:77::1]:0") })
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ls.handler}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	host := ln.Addr().String()

	// One connection per neighbour, each from its own address, made in
	// the namespace before the burst.
	dial := func(src string) (net.Conn, error) {
		var c net.Conn
		var err error
		th.do(func() {
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(src), 0))}
			c, err = d.Dial("tcp", host)
		})
		return c, err
	}
	type guess struct {
		src  string
		conn net.Conn
	}
	next := make(chan guess, neighbours+1)
	for i := range neighbours + 1 {
		src := fmt.Sprintf("2001:db8:78::%x:%x", i*7919%65536, i+1)
		c, err := dial(src)
		if err != nil {
			t.Fatalf("dial from %s: %v", src, err)
		}
		next <- guess{src, c}
	}
	close(next)
	counts := guessAtOnce(t, func(user, pass string) int {
		g := <-next
		code, err := postFrom(g.conn, host, loginBody(user, pass))
		if err != nil {
			t.Errorf("login from %s: %v", g.src, err)
		}
		return code
	}, neighbours, "root", rootPW)
	t.Logf("%d simultaneous logins from %d addresses of one /64: %v", neighbours+1, neighbours+1, counts)
	if n := judged(counts); wrongJudged(counts) > LoginFailures || counts[http.StatusTooManyRequests] != neighbours+1-n {
		t.Errorf("%d wrong guesses judged, want at most %d, the rest 429: %v", wrongJudged(counts), LoginFailures, counts)
	}

	// A neighbour that sent nothing yet is refused too, if the burst
	// failed 5 times; another /64 is judged.
	if counts[http.StatusOK] == 0 {
		c, err := dial("2001:db8:78::ffff:ffff:ffff:ffff")
		if err != nil {
			t.Fatal(err)
		}
		if code, err := postFrom(c, host, loginBody("root", rootPW)); err != nil || code != http.StatusTooManyRequests {
			t.Errorf("a quiet neighbour after the burst: %d %v, want 429", code, err)
		}
	}
	c, err := dial("2001:db8:79::1")
	if err != nil {
		t.Fatal(err)
	}
	if code, err := postFrom(c, host, loginBody("root", rootPW)); err != nil || code != http.StatusOK {
		t.Errorf("another /64: %d %v, want 200", code, err)
	}
}
