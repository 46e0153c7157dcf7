// Package probe sends one health probe to one target through one WAN: ICMP
// echo, DNS query, HTTP(S) GET or TCP connect, on sockets marked with the
// WAN's fwmark and bound to its device.
//
// Both are needed because a probe must leave through the WAN it tests
// whatever the current routing says: offline and standby WANs are probed
// too, while wanlb's balancing would send unmarked traffic elsewhere. The
// mark selects the WAN's routing table and exempts the socket from wanlb's
// balancing chains; the device binding pins the egress interface even when
// no fwmark rule exists yet (daemon start, after a flush) and, for the raw
// ICMP socket, restricts replies to the ones arriving on that WAN.
//
// Every socket of a probe is created on the calling goroutine. A caller
// that locked its OS thread into a network namespace (the lab tests, run
// through lab.Do) therefore gets all of them in that namespace; net/http,
// happy-eyeballs dialing and net.Resolver's address lookups would otherwise
// open sockets on goroutines of their own, on threads in another namespace.
// The one exception is the system resolver looking up the host name of a
// tcp:// or http(s):// target, which is also the only traffic of a probe
// that does not leave through its WAN: such targets should be addresses.
package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/wanlb/wanlb/internal/config"
)

// DefaultTimeout bounds a probe whose context has no deadline, so that a
// lost packet can never block a caller forever.
const DefaultTimeout = 5 * time.Second

// ErrTimeout is wrapped by Result.Err when no answer arrived in time.
var ErrTimeout = errors.New("timeout")

// Via says how a WAN's probes leave the router.
type Via struct {
	// Mark is the WAN's fwmark (inside wanlb's mark_mask), set on every
	// probe socket with SO_MARK. 0 leaves sockets unmarked (unit tests).
	Mark uint32
	// Device is the WAN's L3 device, e.g. "wan2" or "pppoe-wan", every
	// probe socket is bound to with SO_BINDTODEVICE. "" leaves sockets
	// unbound (unit tests).
	Device string
}

// String describes v for error messages: "wan2", "mark 0x2000000", or ""
// when neither is set.
func (v Via) String() string {
	switch {
	case v.Device != "":
		return v.Device
	case v.Mark != 0:
		return fmt.Sprintf("mark %#x", v.Mark)
	}
	return ""
}

// Result is the outcome of one probe.
type Result struct {
	// OK is true when the target answered as required by its kind.
	OK bool
	// RTT is the time from sending to the answer, connection setup
	// included for TCP and HTTP(S); set only when OK.
	RTT time.Duration
	// Err explains a failure, e.g. "icmp 198.18.100.1 via wan2: timeout:
	// no echo reply within 1s"; nil when OK.
	Err error
}

// Probe sends one probe to t through via and reports the outcome. ctx
// carries the probe's timeout (DefaultTimeout when it has no deadline);
// Probe returns by then. An expired context fails at once without opening
// a socket.
//
// Kinds: ICMP echo (OK on one echo reply), DNS A query for t.Host (the root
// when empty) at t.Addr:t.Port (OK on any well-formed answer, NOERROR or
// NXDOMAIN), HTTP or HTTPS GET of t.URL (OK on 2xx or 3xx; redirects are not
// followed, certificates are verified), TCP connect to t.Host:t.Port (OK
// once established).
func Probe(ctx context.Context, via Via, t config.Target) Result {
	return probe(ctx, via, t, options{})
}

// options holds knobs that only tests change.
type options struct {
	// rootCAs replaces the system roots for HTTPS, to trust a test CA.
	rootCAs *x509.CertPool
}

func probe(ctx context.Context, via Via, t config.Target, o options) Result {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	fail := func(err error) Result {
		return Result{Err: fmt.Errorf("%s: %w", describe(via, t), err)}
	}
	// An expired context must not cost a socket, let alone a packet.
	if err := ctx.Err(); err != nil {
		return fail(ctxError(ctx))
	}
	var rtt time.Duration
	var err error
	switch t.Kind {
	case config.TargetICMP:
		rtt, err = probeICMP(ctx, via, t)
	case config.TargetDNS:
		rtt, err = probeDNS(ctx, via, t)
	case config.TargetHTTP, config.TargetHTTPS:
		rtt, err = probeHTTP(ctx, via, t, o)
	case config.TargetTCP:
		rtt, err = probeTCP(ctx, via, t)
	default:
		err = fmt.Errorf("unknown target kind %q", t.Kind)
	}
	if err != nil {
		return fail(err)
	}
	return Result{OK: true, RTT: rtt}
}

// describe names the probe for error messages: "<kind> <target> via <dev>".
func describe(via Via, t config.Target) string {
	var target string
	switch t.Kind {
	case config.TargetICMP:
		target = t.Addr.String()
	case config.TargetDNS:
		target = net.JoinHostPort(t.Addr.String(), strconv.Itoa(t.Port)) + " " + dnsName(t)
	case config.TargetHTTP, config.TargetHTTPS:
		target = t.URL
	case config.TargetTCP:
		target = net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	default:
		target = t.Raw
	}
	s := string(t.Kind) + " " + target
	if v := via.String(); v != "" {
		s += " via " + v
	}
	return s
}

// ctxError explains why ctx ended: a deadline becomes ErrTimeout, a
// cancellation stays context.Canceled.
func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	}
	return ctx.Err()
}

// netError turns a socket-level failure into a probe error, reporting
// deadline expiry as ErrTimeout with the probe's budget b, so callers can
// tell "no answer" from "refused" or "unreachable".
func netError(ctx context.Context, b time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return err
	}
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: no answer within %v (%v)", ErrTimeout, b.Round(time.Millisecond), err)
	}
	return err
}

// budget is the time left until ctx's deadline, for messages.
func budget(ctx context.Context) time.Duration {
	d, _ := ctx.Deadline()
	return time.Until(d)
}

// autoTargets is the built-in list behind detection 'auto': two ICMP and two
// DNS targets on distinct public anycast resolvers (Cloudflare, Google,
// Quad9, Cloudflare's second address), so one lost packet or one operator's
// outage never fails a round on its own. The DNS targets name no host, so
// they query the root, which every recursive resolver answers from cache.
var autoTargets = []string{"1.1.1.1", "8.8.8.8", "dns://9.9.9.9", "dns://1.0.0.1"}

// AutoTargets returns the targets used by detection 'auto': ICMP echo to
// 1.1.1.1 and 8.8.8.8 and a DNS query for "." to 9.9.9.9 and 1.0.0.1.
// The slice is fresh on every call.
func AutoTargets() []config.Target {
	out := make([]config.Target, 0, len(autoTargets))
	for _, s := range autoTargets {
		t, err := config.ParseTarget(s)
		if err != nil {
			// A constant list: a failure is a programming error caught by
			// the unit tests.
			panic(fmt.Sprintf("probe: built-in target %q: %v", s, err))
		}
		out = append(out, t)
	}
	return out
}
