package lab_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
)

// TestUIListenWildcard: the real daemon told to listen on 0.0.0.0 warns,
// naming wanlb.ui.listen, and opens an IPv4-only socket: the UI answers
// on the router's IPv4 addresses and not over IPv6 (a "tcp" socket on
// 0.0.0.0 would take IPv6 too). It answers only requests naming the
// router (DNS rebinding), and a login only as JSON.
func TestUIListenWildcard(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 1})
	// The lab turns IPv6 off; the router's loopback gets it back (::1).
	if out, err := l.Exec(l.Router, "sysctl", "-w", "net.ipv6.conf.lo.disable_ipv6=0"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if out, _ := l.Exec(l.Router, "ip", "-6", "addr", "show", "dev", "lo"); strings.Contains(out, "::1/128") {
			break
		} else if time.Now().After(end) {
			t.Fatalf("no ::1 on the router's loopback:\n%s", out)
		}
	}
	d := startDaemon(t, l, labWANs(l, nil)+"config ui 'ui'\n\tlist listen '0.0.0.0:8088'\n")
	var err error
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		var c interface{ Close() error }
		if c, err = l.DialTCP(l.Router, "127.0.0.1:8088"); err == nil {
			c.Close()
			break
		}
	}
	if err != nil {
		t.Fatalf("the UI on 0.0.0.0 does not answer on 127.0.0.1: %v", err)
	}
	if c, err := l.DialTCP(l.Router, "[::1]:8088"); err == nil {
		c.Close()
		t.Error("the UI on 0.0.0.0 answers over IPv6 ([::1]:8088)")
	}
	if out := d.proc.Output(); !strings.Contains(out, "wanlb.ui.listen: warning: a wildcard address listens on every interface") {
		t.Errorf("no warning about the wildcard address in the log:\n%s", out)
	}
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host, ctype, method, path string
		code                      int
	}{
		{"127.0.0.1:8088", "", "GET", "/index.html", 200},
		{hostname + ".lan:8088", "", "GET", "/index.html", 200},
		{"198.18.1.1:8088", "", "GET", "/index.html", 200}, // the router's LAN address, on the wildcard
		{"rebind.example:8088", "", "GET", "/index.html", 421},
		{"rebind.example:8088", "application/json", "POST", "/api/login", 421},
		{"127.0.0.1:8088", "text/plain", "POST", "/api/login", 415},
	} {
		c, err := l.DialTCP(l.Router, "127.0.0.1:8088")
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		body := `{"username":"root","password":"x"}`
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			tt.method, tt.path, tt.host, tt.ctype, len(body), body)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil || resp.StatusCode != tt.code {
			t.Errorf("%s %s Host %s (%s): %v %v, want %d", tt.method, tt.path, tt.host, tt.ctype, resp, err, tt.code)
		}
	}
}
