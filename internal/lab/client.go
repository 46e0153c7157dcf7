package lab

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
)

// DefaultConnectTimeout is used when Options.ConnectTimeout is zero.
const DefaultConnectTimeout = 2 * time.Second

// Whoami opens one TCP connection from ns to the server on port (WhoamiPort
// or SlowPort) and returns the ISP it arrived through.
func (l *Lab) Whoami(ns string, port int) (int, error) {
	addr := netip.AddrPortFrom(serverAddr, uint16(port)).String()
	remote, err := l.WhoamiAt(ns, addr)
	if err != nil {
		return 0, err
	}
	k := l.ISPOf(remote)
	if k == 0 {
		return 0, fmt.Errorf("lab: whoami from %s to %s: server saw %q, not an ISP address", ns, addr, remote)
	}
	return k, nil
}

// WhoamiAt connects from ns to a whoami server at addr (host:port) and
// returns the remote address that server saw, e.g. "198.18.22.2:40123".
func (l *Lab) WhoamiAt(ns string, addr string) (string, error) {
	var remote string
	err := l.Do(ns, func() error {
		var err error
		remote, err = l.whoamiOnce(addr)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("lab: whoami from %s to %s: %w", ns, addr, err)
	}
	return remote, nil
}

// whoamiOnce runs in the caller's namespace. The whole exchange (connect
// and answer) must fit in Options.ConnectTimeout, plus Options.SlowDelay
// when addr is the slow server, so a lossy path costs at most that per
// attempt.
func (l *Lab) whoamiOnce(addr string) (string, error) {
	budget := l.opts.ConnectTimeout
	if addr == netip.AddrPortFrom(serverAddr, SlowPort).String() {
		budget += l.opts.SlowDelay
	}
	deadline := time.Now().Add(budget)
	d := net.Dialer{Deadline: deadline}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(deadline); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return "", fmt.Errorf("read answer: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("empty answer")
	}
	return s, nil
}

// CountISPs opens n sequential TCP connections from ns to the server on port
// and counts them per ISP. Failed connections and unknown sources count
// under key 0; individual failures do not abort the run. All connections
// are made from one locked thread, so this is fast.
func (l *Lab) CountISPs(ns string, n int, port int) (map[int]int, error) {
	return l.CountISPsAt(ns, n, netip.AddrPortFrom(serverAddr, uint16(port)).String())
}

// DialTCP opens a long-lived TCP connection from ns to addr. The lab closes
// it on Close if the caller has not.
func (l *Lab) DialTCP(ns string, addr string) (net.Conn, error) {
	var c net.Conn
	err := l.Do(ns, func() error {
		var err error
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err = d.Dial("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: dial tcp %s from %s: %w", addr, ns, err)
	}
	l.track(c)
	return c, nil
}

// DialUDP opens a connected UDP socket from ns to raddr, bound to laddr if it
// is not empty. The lab closes it on Close if the caller has not.
func (l *Lab) DialUDP(ns string, laddr, raddr string) (*net.UDPConn, error) {
	var la *net.UDPAddr
	if laddr != "" {
		var err error
		if la, err = net.ResolveUDPAddr("udp", laddr); err != nil {
			return nil, fmt.Errorf("lab: dial udp from %s: local address: %w", ns, err)
		}
	}
	ra, err := net.ResolveUDPAddr("udp", raddr)
	if err != nil {
		return nil, fmt.Errorf("lab: dial udp from %s: remote address: %w", ns, err)
	}
	var c *net.UDPConn
	err = l.Do(ns, func() error {
		var err error
		c, err = net.DialUDP("udp", la, ra)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: dial udp %s from %s: %w", raddr, ns, err)
	}
	l.track(c)
	return c, nil
}

// track remembers a caller's socket so Close can release it: an open socket
// pins its namespace in the kernel even after the name is deleted.
func (l *Lab) track(c io.Closer) {
	l.mu.Lock()
	closed := l.closed
	if !closed {
		l.conns = append(l.conns, c)
	}
	l.mu.Unlock()
	if closed {
		c.Close()
	}
}
