package ubus

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// brokenBus listens on a unix socket and treats every connection with
// serve, standing in for a ubusd or rpcd that misbehaves in ways the real
// ones cannot be made to (rpcd_test.go covers the real ones).
func brokenBus(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "ubus.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); serve(c) }()
		}
	}()
	return sock
}

// hello is ubusd's greeting to a new client.
func hello() []byte {
	return appendAttr(make([]byte, msgHdrLen), 0, false, nil)
}

// drain reads what the client sends until it hangs up.
func drain(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

func TestCallFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(net.Conn)
		want  error  // errors.Is; nil: see msg
		msg   string // substring of the error when want is nil
	}{
		{"accepts and never answers", drain, context.DeadlineExceeded, ""},
		{"greets, then never answers", func(c net.Conn) { c.Write(hello()); drain(c) }, context.DeadlineExceeded, ""},
		{"hangs up", func(c net.Conn) {}, io.ErrUnexpectedEOF, ""},
		{"greets with the wrong message", func(c net.Conn) {
			m := hello()
			m[1] = msgData
			c.Write(m)
			drain(c)
		}, nil, "not HELLO"},
		{"announces a message over the cap", func(c net.Conn) {
			c.Write(hello())
			var hdr [msgHdrLen + blobHdrLen]byte
			binary.BigEndian.PutUint32(hdr[msgHdrLen:], blobLenMask) // 16 MiB, never sent
			c.Write(hdr[:])
			drain(c)
		}, nil, "over the 1048576-byte limit"},
		{"wrong protocol version", func(c net.Conn) {
			m := hello()
			m[0] = 1
			c.Write(m)
			drain(c)
		}, nil, "version 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A short timeout where the peer never answers; where it
			// acts, time for it to act on a slow machine, or the error
			// would be the deadline instead of what it did.
			timeout := 2 * time.Second
			if tc.want == context.DeadlineExceeded {
				timeout = 300 * time.Millisecond
			}
			c := Client{Socket: brokenBus(t, tc.serve), Timeout: timeout}
			start := time.Now()
			_, err := c.Call(context.Background(), "session", "login", nil)
			took := time.Since(start)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Call: %v, want %v %q", err, tc.want, tc.msg)
			}
			// Bounded by the timeout whatever the peer does (generous
			// margin for a busy machine).
			if took > timeout+2*time.Second {
				t.Errorf("took %v with a %v timeout", took, timeout)
			}
		})
	}
}

func TestCallCancelled(t *testing.T) {
	c := Client{Socket: brokenBus(t, func(c net.Conn) { c.Write(hello()); drain(c) }), Timeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Call(ctx, "session", "login", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Call: %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("cancelled call returned after %v", took)
	}
}

func TestCallNoSocket(t *testing.T) {
	_, err := Client{Socket: filepath.Join(t.TempDir(), "none.sock")}.Call(context.Background(), "session", "login", nil)
	if err == nil {
		t.Fatal("no error without ubusd")
	}
	var s Status
	if errors.As(err, &s) || !errors.Is(err, ErrConnect) {
		t.Errorf("a missing ubusd: %v, want ErrConnect", err)
	}
}

func TestStatusText(t *testing.T) {
	if got := StatusPermissionDenied.Error(); got != "Permission denied (ubus status 6)" {
		t.Errorf("%q", got)
	}
	if got := Status(99).Error(); got != "ubus status 99" {
		t.Errorf("%q", got)
	}
}
