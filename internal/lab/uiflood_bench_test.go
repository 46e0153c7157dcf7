package lab_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
)

// Flood of the web UI: FloodConns connections from FloodAddrs LAN
// addresses, half of them idle, half slowloris (a request's headers a
// line at a time); each one that the daemon closes comes back after
// floodRedial, as an attacker's would.
const (
	floodConns  = 2000
	floodAddrs  = 200
	floodTime   = 15 * time.Second
	floodRedial = 2 * time.Second
)

// BenchmarkUIFlood measures how much the daemon's memory grows while its
// web UI is flooded, and whether a normal client on the LAN is answered
// meanwhile (target: growth at most 8 MB; 2,000 connections grew it by
// 37 MB before the UI capped connections).
func BenchmarkUIFlood(b *testing.B) {
	labtest.RequireRoot(b)
	l := newLab(b, lab.Options{ISPs: 1})
	d := startDaemon(b, l, labWANs(l, nil)+"config ui 'ui'\n\tlist listen '198.18.1.1:8088'\n")
	defer d.stop()
	const ui = "198.18.1.1:8088"
	// The attackers' addresses, beside the normal client's 198.18.1.2.
	for i := 0; i < floodAddrs; i++ {
		if _, err := l.Exec(l.Client, "ip", "addr", "add", fmt.Sprintf("198.18.1.%d/24", 10+i), "dev", "lan0"); err != nil {
			b.Fatal(err)
		}
	}
	normal := func() (time.Duration, error) {
		start := time.Now()
		c, err := l.DialTCP(l.Client, ui)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /index.html HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", ui)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	// Until the UI answers, then a few requests to warm it up.
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := normal(); err == nil {
			break
		} else if time.Now().After(end) {
			b.Fatalf("the UI never answered: %v", err)
		}
	}
	for i := 0; i < 5; i++ {
		normal()
	}
	pid := d.proc.Cmd.Process.Pid
	before := procStatus(b, pid, "VmRSS")

	// The attackers: one goroutine inside the client namespace dials
	// (a socket belongs to the namespace it was made in); each
	// connection's reader notices when the daemon closes it and asks
	// for a new one.
	var (
		stop    = make(chan struct{})
		redial  = make(chan int, floodConns)
		mu      sync.Mutex
		conns   = make([]net.Conn, floodConns)
		dials   atomic.Int64
		readers sync.WaitGroup
	)
	for i := range floodConns {
		redial <- i
	}
	go l.Do(l.Client, func() error {
		for {
			select {
			case <-stop:
				return nil
			case i := <-redial:
				src := &net.TCPAddr{IP: net.IPv4(198, 18, 1, byte(10+i%floodAddrs))}
				c, err := (&net.Dialer{LocalAddr: src, Timeout: 2 * time.Second}).Dial("tcp4", ui)
				if err != nil {
					go func() { time.Sleep(floodRedial); redial <- i }()
					continue
				}
				dials.Add(1)
				if i%2 == 1 {
					fmt.Fprintf(c, "GET /index.html HTTP/1.1\r\nHost: %s\r\n", ui)
				}
				mu.Lock()
				conns[i] = c
				mu.Unlock()
				readers.Add(1)
				go func() {
					defer readers.Done()
					buf := make([]byte, 1024)
					for {
						if _, err := c.Read(buf); err != nil {
							break
						}
					}
					c.Close()
					select {
					case <-stop:
					case <-time.After(floodRedial):
						redial <- i
					}
				}()
			}
		}
	})
	// The slowloris half adds a header line every second.
	go func() {
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			mu.Lock()
			for i := 1; i < floodConns; i += 2 {
				if conns[i] != nil {
					conns[i].SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
					fmt.Fprintf(conns[i], "X-%d: %d\r\n", k, k)
				}
			}
			mu.Unlock()
		}
	}()

	var (
		peak     = before
		answered int
		asked    int
		slowest  time.Duration
		failures []string
	)
	for end := time.Now().Add(floodTime); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		asked++
		if took, err := normal(); err != nil {
			failures = append(failures, err.Error())
		} else {
			answered++
			slowest = max(slowest, took)
		}
		peak = max(peak, procStatus(b, pid, "VmRSS"))
	}
	close(stop)
	mu.Lock()
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	mu.Unlock()
	readers.Wait()

	growth := float64(peak-before) / 1024
	report(b, fmt.Sprintf("Web UI under a connection flood: %d connections (half idle, half slowloris) from %d LAN addresses, redialled when closed, for %s", floodConns, floodAddrs, floodTime),
		fmt.Sprintf("  daemon RSS before %.1f MB, peak %.1f MB: growth %.1f MB (target <= 8 MB: %v)\n"+
			"  flood connections opened %d; a normal client's requests answered %d of %d, slowest %d ms",
			float64(before)/1024, float64(peak)/1024, growth, growth <= 8, dials.Load(), answered, asked, slowest.Milliseconds()))
	b.ReportMetric(growth, "growth-MB")
	if growth > 8 {
		b.Errorf("the daemon grew %.1f MB under the flood, target 8 MB", growth)
	}
	if answered != asked {
		b.Errorf("the normal client was not answered during the flood: %v", failures)
	}
}
