package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	probing "github.com/prometheus-community/pro-bing"

	"github.com/wanlb/wanlb/internal/config"
)

// probeICMP sends one echo request with pro-bing on a raw socket
// (privileged mode: unprivileged "ping" sockets need
// net.ipv4.ping_group_range, closed by default, and on Linux pro-bing can
// only match replies by identifier on raw sockets). The socket carries via's
// mark (pro-bing's SetMark) and is bound to via's device (rawBinder, since
// pro-bing's InterfaceName does not bind).
//
// pro-bing's receive loop polls with read deadlines of up to ~100 ms and
// RunWithContext waits for it, so an ICMP probe may return that much after
// ctx's deadline (measured ~10 ms); pro-bing offers no way to interrupt it.
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

	p := probing.New(addr.String())
	// pro-bing's default logger prints to the process log, and its
	// "FATAL" lines are only warnings.
	p.SetLogger(probing.NoopLogger{})
	p.SetPrivileged(true)
	// Setting the address directly skips pro-bing's resolver and picks the
	// ip4 or ip6 socket from the address family.
	p.SetIPAddr(&net.IPAddr{IP: net.IP(addr.AsSlice()), Zone: addr.Zone()})
	p.Count = 1
	p.Timeout = b
	p.RecordTTLs = false
	p.SetMark(uint(via.Mark))
	// Also set by rawBinder below; pro-bing's own IP_PKTINFO interface index
	// agrees with the binding and keeps the request on the device should
	// binding ever be skipped.
	p.InterfaceName = via.Device

	var bindErr error
	if via.Device != "" {
		binder, err := newRawBinder(addr.Is4(), via.Mark, via.Device)
		if err != nil {
			return 0, err
		}
		defer binder.release()
		p.OnSetup = func() {
			if bindErr = binder.bind(); bindErr != nil {
				// pro-bing still sends its first request, on the
				// interface named by IP_PKTINFO; the probe fails anyway.
				p.Stop()
			}
		}
	}

	err := p.RunWithContext(ctx)
	if bindErr != nil {
		return 0, bindErr
	}
	stats := p.Statistics()
	if stats.PacketsRecv > 0 && len(stats.Rtts) > 0 {
		return stats.Rtts[0], nil
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return 0, icmpError(via, err)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return 0, ctx.Err()
	}
	return 0, fmt.Errorf("%w: no echo reply within %v", ErrTimeout, b.Round(time.Millisecond))
}

// icmpError adds the missing capability to pro-bing's errors. pro-bing
// formats SetMark failures with %v, so only the text says what failed.
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
	case strings.HasPrefix(msg, "error setting mark"):
		if denied {
			return fmt.Errorf("set SO_MARK %#x: %w (needs CAP_NET_ADMIN)", via.Mark, err)
		}
		return fmt.Errorf("set SO_MARK %#x: %w", via.Mark, err)
	case denied && op == "listen":
		return fmt.Errorf("open raw ICMP socket: %w (needs CAP_NET_RAW)", err)
	case denied && op == "write":
		// EPERM on send is a local firewall rule rejecting the packet.
		return fmt.Errorf("send echo request: %w (blocked by a local firewall rule?)", err)
	case op == "route":
		// net.InterfaceByName, called by pro-bing for InterfaceName.
		return fmt.Errorf("device %s: %w", via.Device, err)
	}
	return err
}
