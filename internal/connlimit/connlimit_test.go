package connlimit

import (
	"net"
	"net/http"
	"testing"
	"time"
)

// pair is one client connection and the listener's side of it.
type pair struct{ client, server net.Conn }

// closed tells whether the other end has closed c.
// How long closed waits: for a close that must come (the refusal runs on
// the accept goroutine), and for one that must not.
const shut, open = 5 * time.Second, 200 * time.Millisecond

// closed reports whether the peer closed c, waiting up to wait: long where
// the close is expected (it returns at once on EOF), short where c must
// stay open.
func closed(c net.Conn, wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

func TestMakesRoomFromTheBiggestClient(t *testing.T) {
	inner, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner, Limits{Total: 4, PerClient: 3})
	defer l.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func(last byte) pair {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, last)}}
		c, err := d.Dial("tcp4", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		select {
		case s := <-accepted:
			return pair{c, s}
		case <-time.After(5 * time.Second):
			t.Fatal("not accepted")
		}
		return pair{}
	}
	// Client .2 takes 3 places, .3 one: the listener is full.
	a1, a2, a3 := dial(2), dial(2), dial(2)
	b1 := dial(3)
	if s := l.Stats(); s.Open != 4 {
		t.Fatalf("open %d", s.Open)
	}
	// a1 is serving a request: it is never taken.
	l.ConnState(a1.server, http.StateActive)
	// A newcomer (.4) takes the place of the biggest client's oldest
	// idle connection (a2), not of b1.
	c1 := dial(4)
	if !closed(a2.client, shut) || closed(b1.client, open) || closed(a1.client, open) || closed(a3.client, open) || closed(c1.client, open) {
		t.Fatal("wrong connection closed for room")
	}
	// .2 again, at its own cap? It has 2 now (a1 busy, a3): the listener
	// is full, so .2's idle a3 goes (biggest client).
	a4 := dial(2)
	if !closed(a3.client, shut) || closed(a4.client, open) || closed(b1.client, open) {
		t.Fatal("second room not made from the biggest client")
	}
	// Everyone busy: a newcomer is closed at once.
	for _, p := range []pair{a4, b1, c1} {
		l.ConnState(p.server, http.StateActive)
	}
	late, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 5)}}).Dial("tcp4", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if !closed(late, shut) {
		t.Error("a newcomer got in while every place was busy")
	}
	if s := l.Stats(); s.Refused != 1 || s.Open != 4 {
		t.Errorf("stats %+v", s)
	}
	// Closing frees a place.
	b1.server.Close()
	if s := l.Stats(); s.Open != 3 {
		t.Errorf("after a close: %+v", s)
	}
}

func TestPerClientCap(t *testing.T) {
	inner, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner, Limits{Total: 100, PerClient: 2})
	defer l.Close()
	var servers []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			servers = append(servers, c)
		}
	}()
	var clients []net.Conn
	for range 5 {
		c, err := net.Dial("tcp4", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	for end := time.Now().Add(5 * time.Second); l.Stats().Open != 2 || !closed(clients[2], shut); {
		if time.Now().After(end) {
			t.Fatalf("one client holds %d connections, cap 2", l.Stats().Open)
		}
	}
	// The newest two are kept, the older ones made room.
	if !closed(clients[0], shut) || closed(clients[3], open) || closed(clients[4], open) {
		t.Error("the per-client cap kept the wrong connections")
	}
}
