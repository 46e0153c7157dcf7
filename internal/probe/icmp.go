package probe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/wanlb/wanlb/internal/config"
)

// probeICMP sends one echo request on a raw ICMP socket of its own,
// marked and bound to via's device before it sends or receives anything
// (the dialer's Control runs between socket() and bind()), and waits for
// the echo reply carrying its identifier and sequence number until ctx's
// deadline. Raw, not "ping" sockets: those need net.ipv4.ping_group_range,
// closed by default.
//
// Why not pro-bing, used before: it cannot bind its socket to a device
// (finding the socket took two scans of /proc/self/fd under a global
// lock), and its receive loop polls with read deadlines starting at 50 µs,
// 3 goroutines and 2 tickers per probe. With 4 WANs that was most of the
// daemon's CPU; one blocking read with the probe's deadline is all a probe
// needs, and it returns at the deadline, not up to 0.1 s after.
func probeICMP(ctx context.Context, via Via, t config.Target) (time.Duration, error) {
	addr := t.Addr.Unmap()
	if !addr.IsValid() {
		return 0, errors.New("no target address")
	}
	deadline, _ := ctx.Deadline()
	b := time.Until(deadline)
	if b <= 0 {
		return 0, ctxError(ctx)
	}
	network := "ip4:1"
	var typ, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if addr.Is6() {
		network, typ, replyType, proto = "ip6:58", ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = markAndBind(int(fd), via) }); err != nil {
			return fmt.Errorf("access socket: %w", err)
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, network, "")
	if err != nil {
		return 0, icmpError(via, err)
	}
	defer pc.Close()
	// Cancelling ctx ends the read at once.
	stop := context.AfterFunc(ctx, func() { pc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := pc.SetReadDeadline(deadline); err != nil {
		return 0, err
	}

	// Every raw ICMP socket on the device sees every reply: the random
	// identifier and sequence number tell this probe's apart.
	id, seq := int(rand.Uint32()&0xffff), int(rand.Uint32()&0xffff)
	msg, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("wanlb")}}).Marshal(nil)
	if err != nil {
		return 0, err
	}
	dst := &net.IPAddr{IP: net.IP(addr.AsSlice()), Zone: addr.Zone()}
	sent := time.Now()
	// The kernel fills in the ICMPv6 checksum of raw ICMPv6 sockets.
	if _, err := pc.WriteTo(msg, dst); err != nil {
		return 0, icmpError(via, err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				return 0, ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return 0, fmt.Errorf("%w: no echo reply within %v", ErrTimeout, b.Round(time.Millisecond))
			}
			return 0, icmpError(via, err)
		}
		rtt := time.Since(sent)
		if isEchoReply(buf[:n], from, proto, replyType, dst.IP, id, seq) {
			return rtt, nil
		}
	}
}

// isEchoReply tells whether a packet read from a raw ICMP socket is the
// reply to this probe's request: an echo reply from dst with its identifier
// and sequence number. Anything else (other probes' replies, requests,
// errors, replies from another address) is someone else's. Go strips the
// IPv4 header of ip4 raw sockets; ICMPv6 sockets never get one.
func isEchoReply(pkt []byte, from net.Addr, proto int, replyType icmp.Type, dst net.IP, id, seq int) bool {
	m, err := icmp.ParseMessage(proto, pkt)
	if err != nil || m.Type != replyType {
		return false
	}
	e, ok := m.Body.(*icmp.Echo)
	if !ok || e.ID != id || e.Seq != seq {
		return false
	}
	ip, ok := from.(*net.IPAddr)
	return ok && ip.IP.Equal(dst)
}

// icmpError adds the missing capability to socket errors: creating a raw
// socket needs CAP_NET_RAW, and EPERM on send is a local firewall rule.
// Mark and device binding failures already say what they need (markError,
// bindError).
func icmpError(via Via, err error) error {
	msg := err.Error()
	denied := errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(msg, "operation not permitted") || strings.Contains(msg, "permission denied")
	var oe *net.OpError
	op := ""
	if errors.As(err, &oe) {
		op = oe.Op
	}
	switch {
	case strings.Contains(msg, "(needs CAP_"):
		return err
	case denied && op == "listen":
		return fmt.Errorf("open raw ICMP socket: %w (needs CAP_NET_RAW)", err)
	case denied && op == "write":
		return fmt.Errorf("send echo request: %w (blocked by a local firewall rule?)", err)
	}
	return err
}
