package webui

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// floodServer serves the harness's UI the way the daemon does (timeouts,
// connection caps) on 127.0.0.1, counting the connections it holds.
func floodServer(t *testing.T, h *harness) (addr string, held *atomic.Int64) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(h.s)
	l := Limit(srv, ln)
	held = new(atomic.Int64)
	limit := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			held.Add(1)
		case http.StateClosed, http.StateHijacked:
			held.Add(-1)
		}
		limit(c, s)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), held
}

// attack opens n connections to addr from the loopback addresses
// 127.0.0.<from>..<to>, every other one a slowloris that starts a request
// and adds a header line now and then, the others idle.
type attack struct {
	mu    sync.Mutex
	conns []net.Conn
	stop  chan struct{}
	done  sync.WaitGroup
}

func flood(t *testing.T, addr string, n, from, to int) *attack {
	a := &attack{stop: make(chan struct{})}
	for i := 0; i < n; i++ {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(from+i%(to-from+1)))}
		d := net.Dialer{LocalAddr: src, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp4", addr)
		if err != nil {
			t.Fatalf("flood connection %d: %v", i, err)
		}
		if i%2 == 1 {
			fmt.Fprintf(c, "GET /index.html HTTP/1.1\r\nHost: %s\r\n", addr)
		}
		a.conns = append(a.conns, c)
	}
	// The slowloris half trickles one header line every 200 ms.
	a.done.Add(1)
	go func() {
		defer a.done.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for k := 0; ; k++ {
			select {
			case <-a.stop:
				return
			case <-tick.C:
			}
			for i := 1; i < len(a.conns); i += 2 {
				a.conns[i].SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
				fmt.Fprintf(a.conns[i], "X-%d: %d\r\n", k, k)
			}
		}
	}()
	t.Cleanup(func() {
		close(a.stop)
		a.done.Wait()
		for _, c := range a.conns {
			c.Close()
		}
	})
	return a
}

// get sends one request on a new connection from 127.0.0.1.
func get(addr, path string) (int, error) {
	c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func memInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// TestFloodIsBounded: idle and slowloris connections from one address,
// then from 240 loopback addresses, do not grow the server beyond its
// caps, and a normal client is answered all along.
func TestFloodIsBounded(t *testing.T) {
	for _, tt := range []struct {
		name     string
		n        int
		from, to int
	}{
		{"one address", 1000, 2, 2},
		{"many addresses", 2000, 10, 249},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			addr, held := floodServer(t, h)
			if code, err := get(addr, "/index.html"); code != 200 {
				t.Fatalf("before the flood: %d %v", code, err)
			}
			before := memInUse()
			flood(t, addr, tt.n, tt.from, tt.to)
			for i := 0; i < 20; i++ {
				if code, err := get(addr, "/index.html"); code != 200 {
					t.Fatalf("request %d during the flood: %d %v", i, code, err)
				}
			}
			// The server closes what it does not keep at once, not
			// after its timeouts (5 s): poll 2 s for its count to settle.
			for end := time.Now().Add(2 * time.Second); held.Load() > int64(Limits.Total) && time.Now().Before(end); {
				time.Sleep(20 * time.Millisecond)
			}
			if n := held.Load(); n > int64(Limits.Total) {
				t.Errorf("the server holds %d connections, cap %d", n, Limits.Total)
			}
			after := memInUse()
			grown := (float64(after) - float64(before)) / (1 << 20)
			t.Logf("%d flood connections: server holds %d, heap+stacks grew %.1f MB", tt.n, held.Load(), grown)
			if grown > 8 {
				t.Errorf("memory grew %.1f MB under the flood, want <= 8", grown)
			}
		})
	}
}

// TestSlowHeadersAreCut: a client that sends its request headers a line
// at a time is disconnected after ReadHeaderTimeout, however it trickles.
func TestSlowHeadersAreCut(t *testing.T) {
	h := newHarness(t)
	addr, _ := floodServer(t, h)
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "GET /index.html HTTP/1.1\r\nHost: %s\r\n", addr)
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(ReadHeaderTimeout + 5*time.Second)
	for i := 0; ; i++ {
		select {
		case d := <-closed:
			if d < ReadHeaderTimeout-time.Second {
				t.Errorf("closed after %s, before ReadHeaderTimeout (%s)", d, ReadHeaderTimeout)
			}
			return
		case <-limit:
			t.Fatalf("a slowloris is still connected after %s", time.Since(start))
		case <-tick.C:
			fmt.Fprintf(c, "X-%d: %d\r\n", i, i)
		}
	}
}

// TestHugeHeadersAreRefused: headers over MaxHeaderBytes (plus the 4 kB
// net/http allows beyond it) get 431 instead of filling memory.
func TestHugeHeadersAreRefused(t *testing.T) {
	h := newHarness(t)
	addr, _ := floodServer(t, h)
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /index.html HTTP/1.1\r\nHost: %s\r\nX-Big: %s\r\n\r\n", addr, strings.Repeat("a", MaxHeaderBytes+8<<10))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("%d kB of headers: %v %v, want 431", (MaxHeaderBytes+8<<10)>>10, resp, err)
	}
}
