package netifd

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/ubus"
)

// silentBus is a unix socket that accepts connections, counts them and
// never answers: a hung ubusd. (The real ubusd's answers are tested in
// ubusd_test.go.)
func silentBus(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "ubus.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			conns = append(conns, c)
		}
	}()
	return sock, &n
}

func TestStatusRejectsInvalidNames(t *testing.T) {
	// No invalid name may get as far as connecting to ubusd.
	sock, conns := silentBus(t)
	c := Client{Socket: sock, Timeout: 100 * time.Millisecond}
	for _, name := range []string{"", "wan b", "wan;reboot", "$(reboot)", "wan-b", "../wan", "wan\n", "wan.x", "wan*", "-h", "ẁan"} {
		if got, err := c.Status(context.Background(), name); err == nil || !strings.Contains(err.Error(), "invalid interface name") {
			t.Errorf("Status(%q) = %+v, %v; want an invalid name error", name, got, err)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections to ubusd for invalid names", n)
	}
	// A valid name does connect: the count works.
	if _, err := c.Status(context.Background(), "wan_6"); err == nil {
		t.Fatal("a silent ubusd answered")
	}
	// The accept goroutine counts it, maybe after Status gave up.
	for end := time.Now().Add(5 * time.Second); conns.Load() != 1 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for a valid name, want 1", n)
	}
}

func TestStatusTimeout(t *testing.T) {
	sock, _ := silentBus(t)
	c := Client{Socket: sock, Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := c.Status(context.Background(), "wan")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("Status error = %v, want a timeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Status took %v with a 300ms timeout", took)
	}
}

func TestStatusCallerCancel(t *testing.T) {
	sock, _ := silentBus(t)
	c := Client{Socket: sock, Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Status(ctx, "wan")
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("Status error = %v, want the caller's deadline", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Status ignored the caller's deadline")
	}
}

func TestStatusNoUbusd(t *testing.T) {
	_, err := Client{Socket: filepath.Join(t.TempDir(), "none.sock")}.Status(context.Background(), "wan")
	if !errors.Is(err, ubus.ErrConnect) || errors.Is(err, ErrNotFound) {
		t.Fatalf("Status without ubusd: %v, want ubus.ErrConnect", err)
	}
}

func TestAvailable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock, _ := silentBus(t)
	for path, want := range map[string]bool{filepath.Join(dir, "none"): false, file: false, dir: false, sock: true} {
		if got := Available(path); got != want {
			t.Errorf("Available(%s) = %v, want %v", path, got, want)
		}
	}
}
