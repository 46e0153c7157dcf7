package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
)

// Downloads is how many endless downloads the LAN client keeps running;
// each reconnects every downloadFor, so they move between WANs.
const (
	Downloads   = 4
	downloadFor = 20 * time.Second
	// idleLimit ends a download (or relayed connection) that moved no data
	// for this long: its WAN went dark.
	idleLimit = 3 * time.Second
)

// connSet tracks open connections so a stop can close them all.
type connSet struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (s *connSet) add(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = make(map[net.Conn]struct{})
	}
	s.conns[c] = struct{}{}
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	c.Close()
}

// serve accepts connections on ln until it is closed and runs handle on
// each in its own goroutine; the set closes them all on closeAll.
func (s *connSet) serve(ln net.Listener, handle func(c net.Conn)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			s.add(c)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer s.remove(c)
				handle(c)
			}()
		}
	}()
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// serveStream serves an endless stream of zeros on streamPort in the
// internet namespace. The returned stop closes it and every connection.
func serveStream(l *lab.Lab) (stop func(), err error) {
	addr := netip.AddrPortFrom(l.ServerAddr(), streamPort).String()
	var ln net.Listener
	if err := l.Do(l.Internet, func() (err error) { ln, err = net.Listen("tcp", addr); return }); err != nil {
		return nil, fmt.Errorf("stream server on %s: %w", addr, err)
	}
	var set connSet
	buf := make([]byte, 64<<10) // only read by the kernel: one buffer serves all
	set.serve(ln, func(c net.Conn) {
		for {
			c.SetWriteDeadline(time.Now().Add(idleLimit))
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	return func() { ln.Close(); set.closeAll() }, nil
}

// traffic starts the LAN client's load until ctx is done: a new whoami
// connection every 75 ms and Downloads endless downloads read at full
// speed. wg covers every goroutine.
func traffic(ctx context.Context, l *lab.Lab, wg *sync.WaitGroup) {
	whoami := netip.AddrPortFrom(l.ServerAddr(), lab.WhoamiPort).String()
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(75 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			wg.Add(1)
			go func() { defer wg.Done(); l.WhoamiAt(l.Client, whoami) }()
		}
	}()
	stream := netip.AddrPortFrom(l.ServerAddr(), streamPort).String()
	for i := 0; i < Downloads; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				download(ctx, l, stream)
				select {
				case <-ctx.Done():
				case <-time.After(300 * time.Millisecond):
				}
			}
		}()
	}
}

// download reads from one connection made from the client namespace until
// downloadFor passes, the connection stalls or ctx is done.
func download(ctx context.Context, l *lab.Lab, addr string) {
	var c net.Conn
	// Only the socket must be made inside the namespace; reading it
	// works from any thread.
	err := l.Do(l.Client, func() (err error) {
		c, err = (&net.Dialer{Timeout: idleLimit}).DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return
	}
	defer c.Close()
	defer context.AfterFunc(ctx, func() { c.Close() })()
	buf := make([]byte, 64<<10)
	for end := time.Now().Add(downloadFor); time.Now().Before(end); {
		c.SetReadDeadline(time.Now().Add(idleLimit))
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// relay accepts connections on ln (host namespace) and joins each to a
// connection to the UI dialled from the router namespace. The returned
// stop closes ln and every relayed connection.
func relay(ln net.Listener, l *lab.Lab) (stop func()) {
	var set connSet
	set.serve(ln, func(c net.Conn) {
		var ui net.Conn
		if err := l.Do(l.Router, func() (err error) {
			ui, err = net.DialTimeout("tcp", uiAddr, 5*time.Second)
			return err
		}); err != nil {
			return
		}
		set.add(ui)
		defer set.remove(ui)
		done := make(chan struct{}, 2)
		pipe := func(dst, src net.Conn) { io.Copy(dst, src); done <- struct{}{} }
		go pipe(ui, c)
		go pipe(c, ui)
		<-done // either side closing ends both
	})
	return func() { ln.Close(); set.closeAll() }
}
