package probe

// Unit tests: no root, no network beyond 127.0.0.1, and they must pass under
// qemu-user (mips, arm). Probes through real WANs are tested in
// internal/lab/probe_lab_test.go.

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
)

func mustTarget(t *testing.T, s string) config.Target {
	t.Helper()
	tg, err := config.ParseTarget(s)
	if err != nil {
		t.Fatalf("ParseTarget(%q): %v", s, err)
	}
	return tg
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestAutoTargets(t *testing.T) {
	t.Run("IPv4", func(t *testing.T) { testAutoTargets(t, AutoTargets, false) })
	t.Run("IPv6", func(t *testing.T) { testAutoTargets(t, AutoTargets6, true) })
}

func testAutoTargets(t *testing.T, auto func() []config.Target, is6 bool) {
	ts := auto()
	if len(ts) != 4 {
		t.Fatalf("%d targets, want 4: %+v", len(ts), ts)
	}
	doc := netip.MustParsePrefix("2001:db8::/32")
	kinds := map[config.TargetKind]int{}
	seen := map[netip.Addr]bool{}
	bench := netip.MustParsePrefix("198.18.0.0/15")
	for _, tg := range ts {
		kinds[tg.Kind]++
		a := tg.Addr
		switch {
		case tg.Kind != config.TargetICMP && tg.Kind != config.TargetDNS:
			t.Errorf("%s: kind %s, want icmp or dns", tg.Raw, tg.Kind)
		case tg.Is6() != is6 || a.Is6() != is6:
			t.Errorf("%s: IPv6 %v, want %v", tg.Raw, tg.Is6(), is6)
		case !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || bench.Contains(a) || doc.Contains(a):
			t.Errorf("%s: address %v is not a public unicast address", tg.Raw, a)
		case seen[a]:
			t.Errorf("%s: address %v listed twice", tg.Raw, a)
		}
		seen[a] = true
		if tg.Kind == config.TargetDNS && (tg.Port != 53 || dnsName(tg) != ".") {
			t.Errorf("%s: port %d name %q, want 53 and the root", tg.Raw, tg.Port, dnsName(tg))
		}
		// A built-in target must also read back from its own text, as the
		// UI may show it.
		if back := mustTarget(t, tg.Raw); back != tg {
			t.Errorf("%s parses back as %+v, want %+v", tg.Raw, back, tg)
		}
	}
	if kinds[config.TargetICMP] != 2 || kinds[config.TargetDNS] != 2 {
		t.Errorf("kinds %v, want 2 icmp and 2 dns", kinds)
	}
	ts[0].Raw = "changed"
	if auto()[0].Raw == "changed" {
		t.Error("returns shared state")
	}
}

// An expired context fails every kind at once, before any socket exists:
// the addresses below are never contacted, and no privilege is needed even
// though Via asks for a mark and a device.
func TestExpiredContext(t *testing.T) {
	via := Via{Mark: 0x2000000, Device: "wan2"}
	for _, s := range []string{"198.18.100.1", "dns://198.18.100.1/probe.test", "http://198.18.100.1/", "https://198.18.100.1/", "tcp://198.18.100.1:80"} {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		start := time.Now()
		r := Probe(ctx, via, mustTarget(t, s))
		cancel()
		// Microseconds of work: only a stalled machine takes long, and
		// a probe that opened a socket fails the error check below.
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %v with an expired context", s, d)
		}
		if r.OK || !errors.Is(r.Err, ErrTimeout) {
			t.Errorf("%s: %+v, want a timeout", s, r)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := Probe(ctx, via, mustTarget(t, "tcp://198.18.100.1:80")); r.OK || !errors.Is(r.Err, context.Canceled) {
		t.Errorf("canceled context: %+v, want context.Canceled", r)
	}
}

func TestErrorNamesProbeAndWAN(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	r := Probe(ctx, Via{Mark: 0x2000000, Device: "wan2"}, mustTarget(t, "198.18.100.1"))
	if want := "icmp 198.18.100.1 via wan2: timeout"; r.Err == nil || !strings.HasPrefix(r.Err.Error(), want) {
		t.Errorf("error %q, want prefix %q", r.Err, want)
	}
	for via, want := range map[Via]string{{}: "", {Mark: 0x1000000}: "mark 0x1000000", {Mark: 1, Device: "pppoe-wan"}: "pppoe-wan"} {
		if got := via.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", via, got, want)
		}
	}
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r := Probe(timeout(t, 2*time.Second), Via{}, mustTarget(t, "tcp://"+ln.Addr().String()))
	if !r.OK || r.Err != nil || r.RTT <= 0 || r.RTT > time.Second {
		t.Errorf("open port: %+v, want OK with a small RTT", r)
	}

	// A port nobody listens on: the kernel answers the SYN with a RST.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	start := time.Now()
	r = Probe(timeout(t, 2*time.Second), Via{}, mustTarget(t, "tcp://"+addr))
	// Not checked for "refused": qemu-user hands MIPS programs the host's
	// errno for a failed non-blocking connect ("errno 111").
	if r.OK || r.Err == nil || errors.Is(r.Err, ErrTimeout) {
		t.Errorf("closed port: %+v, want connection refused", r)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusal took %v; it must not wait for the timeout", d)
	}
}

func TestHTTP(t *testing.T) {
	var mu sync.Mutex
	var closeHdr []bool
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		closeHdr = append(closeHdr, r.Close)
		mu.Unlock()
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/broken", http.StatusFound)
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for path, wantOK := range map[string]bool{"/ok": true, "/redirect": true, "/broken": false, "/missing": false} {
		r := Probe(timeout(t, 2*time.Second), Via{}, mustTarget(t, srv.URL+path))
		if r.OK != wantOK {
			t.Errorf("%s: %+v, want OK=%v", path, r, wantOK)
		}
		if r.OK && (r.RTT <= 0 || r.RTT > time.Second) {
			t.Errorf("%s: RTT %v", path, r.RTT)
		}
		if !r.OK && (r.Err == nil || !strings.Contains(r.Err.Error(), "HTTP status")) {
			t.Errorf("%s: error %v, want the HTTP status", path, r.Err)
		}
	}
	mu.Lock()
	if len(closeHdr) != 1 || !closeHdr[0] {
		t.Errorf("requests asked to close the connection: %v, want [true] (no keep-alive)", closeHdr)
	}
	mu.Unlock()

	// Not HTTP at all: a server that writes a line and hangs up.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("127.0.0.1:1234\n"))
			c.Close()
		}
	}()
	if r := Probe(timeout(t, 2*time.Second), Via{}, mustTarget(t, "http://"+ln.Addr().String()+"/")); r.OK {
		t.Errorf("non-HTTP server: %+v, want failure", r)
	}
}

func TestHTTPSVerifiesCertificates(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	// The rejected handshake is the point of the test, not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	tg := mustTarget(t, srv.URL+"/")
	r := Probe(timeout(t, 2*time.Second), Via{}, tg)
	if r.OK || r.Err == nil || !strings.Contains(r.Err.Error(), "certificate") {
		t.Errorf("self-signed certificate: %+v, want a verification failure", r)
	}
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	r = probe(timeout(t, 2*time.Second), Via{}, tg, options{rootCAs: roots})
	if !r.OK || r.RTT <= 0 {
		t.Errorf("trusted certificate: %+v, want OK", r)
	}
}

// dnsServer is a DNS server on 127.0.0.1 (UDP, and TCP on the same port)
// that answers every query with an empty response carrying rcode.
type dnsServer struct {
	addr    netip.AddrPort
	mu      sync.Mutex
	mode    dnsMode
	queries []string // "udp probe.test. A"
}

type dnsMode struct {
	rcode    int  // response code; < 0: never answer
	truncate bool // UDP answers set TC, so the client must retry over TCP
	stray    bool // send a SERVFAIL with another ID first, which must be ignored
	long     bool // TCP answers carry 400 A records: longer than the UDP buffer
}

func newDNSServer(t *testing.T) *dnsServer {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ln == nil; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err != nil {
			pc.Close()
			if try == 10 {
				t.Fatalf("no port free for both UDP and TCP: %v", err)
			}
		}
	}
	t.Cleanup(func() { pc.Close(); ln.Close() })
	s := &dnsServer{addr: pc.LocalAddr().(*net.UDPAddr).AddrPort()}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, resp := range s.answer("udp", buf[:n]) {
				pc.WriteTo(resp, from)
			}
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1500)
			if _, err := io.ReadFull(c, buf[:2]); err == nil {
				n := int(binary.BigEndian.Uint16(buf))
				if _, err := io.ReadFull(c, buf[:n]); err == nil {
					for _, resp := range s.answer("tcp", buf[:n]) {
						c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...))
					}
				}
			}
			c.Close()
		}
	}()
	return s
}

// answer builds the replies to query by hand: the header with QR, RD
// copied, RA and the rcode, then the question echoed (RFC 1035 4.1).
func (s *dnsServer) answer(network string, query []byte) [][]byte {
	if len(query) < 12 {
		return nil
	}
	i := 12
	var labels []string
	for i < len(query) && query[i] != 0 {
		l := int(query[i])
		if i+1+l > len(query) {
			return nil
		}
		labels = append(labels, string(query[i+1:i+1+l]))
		i += 1 + l
	}
	end := i + 1 + 4 // root label, type, class
	if end > len(query) {
		return nil
	}
	qtype := map[uint16]string{1: "A"}[binary.BigEndian.Uint16(query[i+1:])]
	s.mu.Lock()
	s.queries = append(s.queries, network+" "+strings.Join(labels, ".")+". "+qtype)
	m := s.mode
	s.mu.Unlock()
	if m.rcode < 0 {
		return nil
	}
	resp := append([]byte(nil), query[:end]...)
	flags := uint16(0x8000) | binary.BigEndian.Uint16(query[2:])&0x0100 | 0x0080 | uint16(m.rcode)
	if m.truncate && network == "udp" {
		flags |= 0x0200
	}
	binary.BigEndian.PutUint16(resp[2:], flags)
	binary.BigEndian.PutUint16(resp[4:], 1)  // QDCOUNT
	binary.BigEndian.PutUint32(resp[6:], 0)  // ANCOUNT, NSCOUNT
	binary.BigEndian.PutUint16(resp[10:], 0) // ARCOUNT
	if m.long && network == "tcp" {
		binary.BigEndian.PutUint16(resp[6:], 400) // ANCOUNT
		for i := 0; i < 400; i++ {
			// Name: pointer to the question's; A, IN, TTL 60, 198.18.x.y.
			resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, byte(i>>8), byte(i))
		}
	}
	if !m.stray {
		return [][]byte{resp}
	}
	// Another query's answer, and an error: taking it would fail the probe.
	stray := append([]byte(nil), resp...)
	stray[0] ^= 0xff
	stray[3] = stray[3]&0xf0 | 2
	return [][]byte{stray, resp}
}

func (s *dnsServer) set(m dnsMode) {
	s.mu.Lock()
	s.mode, s.queries = m, nil
	s.mu.Unlock()
}

func (s *dnsServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

func TestDNS(t *testing.T) {
	s := newDNSServer(t)
	tg := config.Target{Kind: config.TargetDNS, Addr: s.addr.Addr(), Port: int(s.addr.Port()), Host: "probe.test"}
	cases := []struct {
		name    string
		mode    dnsMode
		ok      bool
		err     string
		queries []string
	}{
		{"NOERROR", dnsMode{rcode: 0}, true, "", []string{"udp probe.test. A"}},
		{"NXDOMAIN", dnsMode{rcode: 3}, true, "", []string{"udp probe.test. A"}},
		{"SERVFAIL", dnsMode{rcode: 2}, false, "server answered SERVFAIL", []string{"udp probe.test. A"}},
		{"REFUSED", dnsMode{rcode: 5}, false, "server answered REFUSED", []string{"udp probe.test. A"}},
		{"silent", dnsMode{rcode: -1}, false, "timeout", []string{"udp probe.test. A"}},
		{"truncated", dnsMode{truncate: true}, true, "", []string{"udp probe.test. A", "tcp probe.test. A"}},
		{"truncated, long answer over TCP", dnsMode{truncate: true, long: true}, true, "", []string{"udp probe.test. A", "tcp probe.test. A"}},
		{"stray reply ignored", dnsMode{rcode: 0, stray: true}, true, "", []string{"udp probe.test. A"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.set(c.mode)
			r := Probe(timeout(t, 500*time.Millisecond), Via{}, tg)
			if r.OK != c.ok || (r.Err == nil) != c.ok || (r.Err != nil && !strings.Contains(r.Err.Error(), c.err)) {
				t.Errorf("%+v, want OK=%v and an error containing %q", r, c.ok, c.err)
			}
			if c.err == "timeout" && !errors.Is(r.Err, ErrTimeout) {
				t.Errorf("error %v does not wrap ErrTimeout", r.Err)
			}
			if r.OK && (r.RTT <= 0 || r.RTT > 500*time.Millisecond) {
				t.Errorf("RTT %v", r.RTT)
			}
			// One query per probe, for the rooted name (no search domains).
			if q := s.seen(); strings.Join(q, ",") != strings.Join(c.queries, ",") {
				t.Errorf("server saw %q, want %q", q, c.queries)
			}
		})
	}

	// No host: the root.
	s.set(dnsMode{rcode: 0})
	tg.Host = ""
	if r := Probe(timeout(t, 500*time.Millisecond), Via{}, tg); !r.OK {
		t.Errorf("root query: %+v", r)
	}
	if q := s.seen(); len(q) != 1 || q[0] != "udp . A" {
		t.Errorf("server saw %q, want one \"udp . A\"", q)
	}

	// Nobody listening: ICMP port unreachable makes it fail at once.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	tg.Port = int(closed.Port())
	start := time.Now()
	if r := Probe(timeout(t, 2*time.Second), Via{}, tg); r.OK || !strings.Contains(r.Err.Error(), "refused") {
		t.Errorf("closed port: %+v, want connection refused", r)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusal took %v; it must not wait for the timeout", d)
	}
}
