package daemon

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestControlSocketDeadlines: clients that connect and say nothing, send
// their request slowly or linger after the answer are cut off within the
// socket's deadlines, and never keep another client from its status.
func TestControlSocketDeadlines(t *testing.T) {
	run := t.TempDir()
	d := New(Options{RunDir: run, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, Kernel{})
	ln, err := d.listen()
	if err != nil {
		t.Fatal(err)
	}
	srv := d.controlServer()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	// The state goroutine's part: answer every request at once.
	quit := make(chan struct{})
	t.Cleanup(func() { close(quit) })
	go func() {
		for {
			select {
			case m := <-d.events:
				if r, ok := m.(request); ok {
					r.reply <- Status{PID: 42, WANs: []WANStatus{}}
				}
			case <-quit:
				return
			}
		}
	}()

	sock := filepath.Join(run, SocketName)
	hostile := map[string]string{
		"silent":        "",
		"slow body":     "POST /hotplug HTTP/1.1\r\nHost: wanlb\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\niface=wa",
		"lingering":     "GET /status HTTP/1.1\r\nHost: wanlb\r\n\r\n",
		"half a header": "GET /status HTTP/1.1\r\nHost: wa",
	}
	type end struct {
		name string
		took time.Duration
		open bool
	}
	closed := make(chan end, len(hostile))
	for name, send := range hostile {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatal(err)
		}
		go func() {
			start := time.Now()
			// Our own deadline far beyond the server's: the server must
			// be the one that ends the connection.
			c.SetReadDeadline(time.Now().Add(ControlReadTimeout + ControlIdleTimeout + 10*time.Second))
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			closed <- end{name, time.Since(start), errors.As(err, &ne) && ne.Timeout()}
		}()
	}

	// Meanwhile the CLI asks, several times.
	for i := 0; i < 5; i++ {
		start := time.Now()
		s, err := Client{RunDir: run}.Status()
		if err != nil || s.PID != 42 {
			t.Fatalf("status with hostile clients connected: %+v, %v", s, err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("status took %s with hostile clients connected", took)
		}
	}

	bound := ControlReadTimeout + ControlIdleTimeout + 2*time.Second
	for range hostile {
		e := <-closed
		if !e.open {
			t.Logf("%s client: the server closed it after %s", e.name, e.took.Round(100*time.Millisecond))
		}
		if e.open || e.took > bound {
			t.Errorf("%s client: still connected after %s (open %v), bound %s", e.name, e.took.Round(100*time.Millisecond), e.open, bound)
		}
	}
}

func TestClientErrors(t *testing.T) {
	// Nothing listens: not running.
	if _, err := (Client{RunDir: t.TempDir()}).Status(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("empty run dir: %v, want ErrNotRunning", err)
	}
	// A socket file left by a killed daemon: not running either.
	run := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(run, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := (Client{RunDir: run}).Status(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("stale socket: %v, want ErrNotRunning", err)
	}
}
