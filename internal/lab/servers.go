package lab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Well-known server ports in the internet namespace.
const (
	WhoamiPort = 80 // TCP: answers with the remote address and closes
	SlowPort   = 81 // TCP: like WhoamiPort, after Options.SlowDelay
	EchoPort   = 7  // UDP: answers "<remote addr> <payload>"
)

// startServers runs the whoami, slow whoami and UDP echo servers on the
// server address inside the internet namespace.
func (l *Lab) startServers() error {
	srv := netip.AddrPortFrom(serverAddr, WhoamiPort).String()
	if _, err := l.serveWhoami(l.Internet, srv, 0); err != nil {
		return err
	}
	slow := netip.AddrPortFrom(serverAddr, SlowPort).String()
	if _, err := l.serveWhoami(l.Internet, slow, l.opts.SlowDelay); err != nil {
		return err
	}
	echo := netip.AddrPortFrom(serverAddr, EchoPort).String()
	return l.serveEcho(l.Internet, echo)
}

// ServeWhoami runs a whoami server (writes the remote address, closes) on
// addr inside ns, for example in the client behind a port forward or on
// VPNServerAddr in the vpn namespace. stop closes it and waits for its
// goroutines; Close stops it too.
func (l *Lab) ServeWhoami(ns string, addr string) (stop func(), err error) {
	return l.serveWhoami(ns, addr, 0)
}

func (l *Lab) serveWhoami(ns, addr string, delay time.Duration) (func(), error) {
	var ln net.Listener
	err := l.Do(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: whoami server on %s in %s: %w", addr, ns, err)
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				// Transient (e.g. EMFILE): back off instead of spinning.
				select {
				case <-quit:
					return
				case <-time.After(10 * time.Millisecond):
				}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				answerWhoami(c, delay, quit)
			}()
		}
	}()
	stop := l.addStop(func() {
		close(quit)
		ln.Close()
		wg.Wait()
	})
	return stop, nil
}

// answerWhoami writes the peer address after delay; quit aborts the wait so
// Close never blocks on a slow answer.
func answerWhoami(c net.Conn, delay time.Duration, quit <-chan struct{}) {
	defer c.Close()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-quit:
			t.Stop()
			return
		}
	}
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, c.RemoteAddr().String()+"\n")
}

// serveEcho runs the UDP echo server on addr inside ns.
func (l *Lab) serveEcho(ns, addr string) error {
	var pc net.PacketConn
	err := l.Do(ns, func() error {
		var err error
		pc, err = net.ListenPacket("udp", addr)
		return err
	})
	if err != nil {
		return fmt.Errorf("lab: UDP echo server on %s in %s: %w", addr, ns, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64*1024)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			reply := append([]byte(from.String()+" "), buf[:n]...)
			_, _ = pc.WriteTo(reply, from)
		}
	}()
	l.addStop(func() {
		pc.Close()
		wg.Wait()
	})
	return nil
}

// addStop registers f to run on Close and returns an idempotent stop
// function for the caller. If the lab is already closed, f runs at once.
func (l *Lab) addStop(f func()) func() {
	var once sync.Once
	stop := func() { once.Do(f) }
	l.mu.Lock()
	closed := l.closed
	if !closed {
		l.stops = append(l.stops, stop)
	}
	l.mu.Unlock()
	if closed {
		stop()
	}
	return stop
}

// Process is a background command started by Start inside a namespace.
type Process struct {
	// Cmd is the underlying command; use Wait, not Cmd.Wait.
	Cmd *exec.Cmd

	done chan struct{}
	err  error
	out  lockedBuffer
}

// Wait waits for the process to exit and returns its exit error.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Kill kills the process. `ip netns exec` execs the command in place, so
// the pid is the command's own.
func (p *Process) Kill() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.Cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("lab: kill %v: %w", p.Cmd.Args, err)
	}
	return nil
}

// Output returns the combined stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// lockedBuffer collects output written by exec's copying goroutines while
// Output may read it concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
