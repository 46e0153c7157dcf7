package probe

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/wanlb/wanlb/internal/config"
)

// dialer returns a dialer whose sockets carry via's mark and device binding
// before they send anything (Control runs between socket() and connect()).
func dialer(via Via) *net.Dialer {
	return &net.Dialer{
		// Negative disables happy eyeballs: its racing dials run on extra
		// goroutines (see the package comment), and a probe has no use for
		// racing address families.
		FallbackDelay: -1,
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = markAndBind(int(fd), via) }); err != nil {
				return fmt.Errorf("access socket: %w", err)
			}
			return serr
		},
	}
}

// dnsDefaultName is queried when a dns:// target names no host: every
// recursive resolver answers the root from its priming cache, so the probe
// depends on no third-party domain.
const dnsDefaultName = "."

// dnsName is the absolute name a DNS target queries: the wire format has no
// relative names (and no resolv.conf search list applies to a probe).
func dnsName(t config.Target) string {
	name := t.Host
	if name == "" {
		return dnsDefaultName
	}
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// probeDNS sends one A query for dnsName(t) to t.Addr:t.Port over UDP
// (again over TCP if the answer is truncated), on marked and bound sockets.
// Any well-formed answer counts, NOERROR (with or without records) and
// NXDOMAIN alike: the point is that the server answered through this WAN.
// SERVFAIL, REFUSED and other error codes fail, naming the code.
//
// Why not net.Resolver with a custom Dial: its A/AAAA lookups answer from
// /etc/hosts without sending anything (a dead WAN would look healthy), run
// on goroutines of their own (sockets would escape a namespace-locked
// caller), retry per resolv.conf's servers and attempts, and name
// resolv.conf's server in errors while Dial asked another. Its query types
// that avoid all that (NS, TXT...) are refused by forwarders such as
// dnsmasq with --address, which only answer A.
func probeDNS(ctx context.Context, via Via, t config.Target) (time.Duration, error) {
	if !t.Addr.IsValid() || t.Port < 1 || t.Port > 65535 {
		return 0, fmt.Errorf("bad DNS server %v port %d", t.Addr, t.Port)
	}
	server := net.JoinHostPort(t.Addr.Unmap().String(), strconv.Itoa(t.Port))
	name, err := dnsmessage.NewName(dnsName(t))
	if err != nil {
		return 0, fmt.Errorf("bad query name %q: %w", dnsName(t), err)
	}
	q := dnsmessage.Question{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	id := uint16(rand.Uint32())
	query, err := (&dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{q},
	}).Pack()
	if err != nil {
		return 0, fmt.Errorf("build query: %w", err)
	}
	b := budget(ctx)
	start := time.Now()
	h, err := dnsExchange(ctx, via, "udp", server, id, q, query)
	if err == nil && h.Truncated {
		h, err = dnsExchange(ctx, via, "tcp", server, id, q, query)
	}
	if err != nil {
		return 0, netError(ctx, b, err)
	}
	rtt := time.Since(start)
	switch h.RCode {
	case dnsmessage.RCodeSuccess, dnsmessage.RCodeNameError:
		return rtt, nil
	}
	return 0, fmt.Errorf("server answered %s", rcodeName(h.RCode))
}

// dnsExchange sends query over a new marked and bound socket and returns
// the header of the first well-formed response to it. Datagrams that do not
// answer this query (wrong ID or question, not a response, malformed) are
// ignored, like stray or forged packets, until the context ends.
func dnsExchange(ctx context.Context, via Via, network, server string, id uint16, q dnsmessage.Question, query []byte) (dnsmessage.Header, error) {
	c, err := dialer(via).DialContext(ctx, network, server)
	if err != nil {
		return dnsmessage.Header{}, err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	if err := c.SetDeadline(deadline); err != nil {
		return dnsmessage.Header{}, fmt.Errorf("set deadline: %w", err)
	}
	// A cancellation (not only the deadline) must end a blocked read.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	stream := network == "tcp"
	if stream {
		query = append(binary.BigEndian.AppendUint16(nil, uint16(len(query))), query...)
	}
	if _, err := c.Write(query); err != nil {
		return dnsmessage.Header{}, err
	}
	// A UDP answer to a query without EDNS has at most 512 bytes (RFC 1035
	// 4.2.1); 4 KiB leaves room for servers that ignore that. Not 64 KiB
	// for every probe: that was a large allocation, zeroed, a dozen times a
	// second, and a good share of the daemon's CPU. TCP answers get what
	// their length prefix says.
	buf := make([]byte, 4096)
	for {
		var msg []byte
		if stream {
			if _, err := io.ReadFull(c, buf[:2]); err != nil {
				return dnsmessage.Header{}, err
			}
			n := int(binary.BigEndian.Uint16(buf))
			if n > len(buf) {
				buf = make([]byte, n)
			}
			if _, err := io.ReadFull(c, buf[:n]); err != nil {
				return dnsmessage.Header{}, err
			}
			msg = buf[:n]
		} else {
			n, err := c.Read(buf)
			if err != nil {
				return dnsmessage.Header{}, err
			}
			msg = buf[:n]
		}
		if h, ok := dnsResponse(msg, id, q); ok {
			return h, nil
		}
	}
}

// dnsResponse parses msg completely and reports whether it is a
// well-formed response to the query with id and question q.
func dnsResponse(msg []byte, id uint16, q dnsmessage.Question) (dnsmessage.Header, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || !h.Response || h.ID != id {
		return h, false
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 || qs[0].Type != q.Type || qs[0].Class != q.Class ||
		!strings.EqualFold(qs[0].Name.String(), q.Name.String()) {
		return h, false
	}
	if _, err := p.AllAnswers(); err != nil {
		return h, false
	}
	if _, err := p.AllAuthorities(); err != nil {
		return h, false
	}
	if _, err := p.AllAdditionals(); err != nil {
		return h, false
	}
	return h, true
}

// rcodeName spells a response code the way dig and server logs do.
func rcodeName(rc dnsmessage.RCode) string {
	names := map[dnsmessage.RCode]string{
		dnsmessage.RCodeSuccess: "NOERROR", dnsmessage.RCodeFormatError: "FORMERR",
		dnsmessage.RCodeServerFailure: "SERVFAIL", dnsmessage.RCodeNameError: "NXDOMAIN",
		dnsmessage.RCodeNotImplemented: "NOTIMP", dnsmessage.RCodeRefused: "REFUSED",
	}
	if n, ok := names[rc]; ok {
		return n
	}
	return "rcode " + strconv.Itoa(int(rc))
}

// probeTCP connects to t.Host:t.Port; the established connection is the
// answer. Host names are resolved by the system resolver: only the
// connection itself leaves through the WAN, so targets should be addresses.
func probeTCP(ctx context.Context, via Via, t config.Target) (time.Duration, error) {
	b := budget(ctx)
	start := time.Now()
	c, err := dialer(via).DialContext(ctx, "tcp", net.JoinHostPort(t.Host, strconv.Itoa(t.Port)))
	if err != nil {
		return 0, netError(ctx, b, err)
	}
	rtt := time.Since(start)
	if err := c.Close(); err != nil {
		return 0, fmt.Errorf("close: %w", err)
	}
	return rtt, nil
}

// probeHTTP GETs t.URL over a fresh connection through the WAN and accepts
// 2xx and 3xx. The TCP connection is dialed here, on the caller's goroutine
// (see the package comment), and handed to a one-shot transport; no proxy
// from the environment, no keep-alive, no redirects followed.
func probeHTTP(ctx context.Context, via Via, t config.Target, o options) (time.Duration, error) {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return 0, fmt.Errorf("bad URL %q", t.URL)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	b := budget(ctx)
	start := time.Now()
	conn, err := dialer(via).DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return 0, netError(ctx, b, err)
	}
	// The transport normally closes it; this covers paths where it never
	// took the connection (context expired first). A second Close is
	// harmless.
	defer conn.Close()
	var once sync.Once
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			var c net.Conn
			once.Do(func() { c = conn })
			if c == nil {
				return nil, errors.New("probe connection already used")
			}
			return c, nil
		},
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{RootCAs: o.rootCAs},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		// A redirect is an answer; following it would probe another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", "wanlb-probe")
	resp, err := client.Do(req)
	if err != nil {
		return 0, netError(ctx, b, err)
	}
	rtt := time.Since(start)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return 0, fmt.Errorf("HTTP status %s", resp.Status)
	}
	return rtt, nil
}
