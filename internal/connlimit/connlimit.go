// Package connlimit caps how many connections a server holds, in all and
// per client, so that a flood of idle or slowly-talking connections
// cannot grow a small router's memory without bound.
//
// At a cap the listener does not stop accepting (a full backlog would
// shut out everyone, the normal client too): it closes a connection that
// is not serving a request, taken from the client that holds the most
// connections, oldest first. A normal client with one or two connections
// thus keeps being served while a flooding one loses its own. A new
// connection is closed at once only when every held connection is busy.
package connlimit

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
)

// Limits are the caps of a Listener.
type Limits struct {
	Total     int // connections held at once
	PerClient int // ...of them from one client (an IPv4 address, an IPv6 /64)
}

// Listener is a net.Listener with Limits. Its ConnState method must be
// the http.Server's ConnState hook, so it knows which connections are
// serving a request.
type Listener struct {
	net.Listener
	lim Limits

	mu       sync.Mutex
	conns    map[*conn]struct{}
	byClient map[netip.Prefix]int
	seq      uint64
	refused  uint64
}

// New wraps ln.
func New(ln net.Listener, lim Limits) *Listener {
	return &Listener{Listener: ln, lim: lim, conns: map[*conn]struct{}{}, byClient: map[netip.Prefix]int{}}
}

type conn struct {
	net.Conn
	l      *Listener
	client netip.Prefix
	seq    uint64 // accept order
	busy   bool   // serving a request (under l.mu)
	once   sync.Once
}

// Close releases the connection's place.
func (c *conn) Close() error {
	c.once.Do(c.l.release(c))
	return c.Conn.Close()
}

// NetConn is the wrapped connection.
func (c *conn) NetConn() net.Conn { return c.Conn }

// client is the key connections are counted by: the address, or the /64
// for IPv6, since one host on a LAN may hold a whole /64.
func client(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// Accept returns the next connection, making room for it when a cap is
// reached.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := &conn{Conn: nc, l: l, client: client(nc.RemoteAddr())}
		var victims []*conn
		l.mu.Lock()
		ok := true
		if l.byClient[c.client] >= l.lim.PerClient {
			v := l.victim(func(x *conn) bool { return x.client == c.client })
			ok = v != nil
			if ok {
				victims = append(victims, v)
				l.forget(v)
			}
		}
		if ok && len(l.conns) >= l.lim.Total {
			v := l.victim(nil)
			ok = v != nil
			if ok {
				victims = append(victims, v)
				l.forget(v)
			}
		}
		if ok {
			l.seq++
			c.seq = l.seq
			l.conns[c] = struct{}{}
			l.byClient[c.client]++
		} else {
			l.refused++
		}
		l.mu.Unlock()
		// Closing makes the server's read on it fail, which ends its
		// goroutine and frees its buffers.
		for _, v := range victims {
			v.Conn.Close()
		}
		if ok {
			return c, nil
		}
		nc.Close()
	}
}

// victim picks an idle connection among those match accepts (nil: all):
// from the client holding the most, its oldest. nil when all are busy.
func (l *Listener) victim(match func(*conn) bool) *conn {
	var best *conn
	for c := range l.conns {
		if c.busy || (match != nil && !match(c)) {
			continue
		}
		if best == nil {
			best = c
			continue
		}
		n, bn := l.byClient[c.client], l.byClient[best.client]
		if n > bn || (n == bn && c.seq < best.seq) {
			best = c
		}
	}
	return best
}

// forget removes c from the counts (under l.mu).
func (l *Listener) forget(c *conn) {
	if _, ok := l.conns[c]; !ok {
		return
	}
	delete(l.conns, c)
	if l.byClient[c.client]--; l.byClient[c.client] <= 0 {
		delete(l.byClient, c.client)
	}
}

func (l *Listener) release(c *conn) func() {
	return func() {
		l.mu.Lock()
		l.forget(c)
		l.mu.Unlock()
	}
}

// ConnState is the http.Server hook: a connection serving a request is
// not closed to make room (a slow request body is bounded by the
// server's ReadTimeout instead).
func (l *Listener) ConnState(nc net.Conn, s http.ConnState) {
	// Under TLS the server sees the *tls.Conn around ours.
	for {
		if c, ok := nc.(*conn); ok {
			l.mu.Lock()
			c.busy = s == http.StateActive
			l.mu.Unlock()
			return
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return
		}
		nc = u.NetConn()
	}
}

// Stats are the listener's counts.
type Stats struct {
	Open    int    // connections held now
	Refused uint64 // new connections closed at once, every held one busy
}

// Stats reports the counts.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Open: len(l.conns), Refused: l.refused}
}
