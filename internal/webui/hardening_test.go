package webui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestUnknownPathsAre404(t *testing.T) {
	h := newHarness(t)
	if w := h.do("GET", "/no-such-page.html", "", false); w.Code != http.StatusNotFound {
		t.Errorf("unknown page: %d %s, want 404", w.Code, w.Body)
	}
	if w := h.do("POST", "/index.html", "", false); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST to a page: %d %s, want 405", w.Code, w.Body)
	}
	h.login("root", "secret")
	tests := []struct {
		method, path string
		code         int
	}{
		{"GET", "/api/nonexistent", 404},
		{"GET", "/api/config/rules/x/y/z", 404},
		{"PATCH", "/api/status", 404}, // the logged-in catch-all
		{"GET", "/no/such/dir/", 404},
	}
	for _, tt := range tests {
		if w := h.do(tt.method, tt.path, "", true); w.Code != tt.code {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, w.Code, w.Body, tt.code)
		}
	}
}

func TestHostHeaderMustNameTheRouter(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		host string
		ok   bool
	}{
		{"198.18.1.1:8088", true},
		{"198.18.1.1", true},
		{"OpenWrt", true},
		{"openwrt.lan:8088", true},
		{"OPENWRT.LAN.", true},
		{"127.0.0.1:8088", true},
		{"[::1]:8088", true},
		{"localhost:8088", true},
		{"evil.example", false},
		{"evil.example:8088", false},
		{"openwrt.lan.evil.example", false},
		{"198.18.1.1.nip.io:8088", false},
		{"198.18.1.2:8088", false},
		{"[2001:db8::1]:8088", false},
		{"", false},
	}
	for _, tt := range tests {
		for _, path := range []string{"/index.html", "/api/login"} {
			method, body := "GET", ""
			if path == "/api/login" {
				method, body = "POST", `{"username":"root","password":"secret"}`
			}
			r := httptest.NewRequest(method, path, strings.NewReader(body))
			r.Host = tt.host
			r.RemoteAddr = h.address
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.s.ServeHTTP(w, r)
			if got := w.Code != http.StatusMisdirectedRequest; got != tt.ok || (tt.ok && w.Code != http.StatusOK) {
				t.Errorf("Host %q %s: %d, want allowed=%v", tt.host, path, w.Code, tt.ok)
			}
		}
	}
}

func TestRouterNames(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hostname", "gw\n")
	write("system", "config system\n\toption hostname 'Router1'\n")
	write("dhcp", "config dnsmasq\n\toption domain 'home.example'\n\nconfig dhcp 'lan'\n\toption interface 'lan'\n")
	got := RouterNames(filepath.Join(dir, "hostname"), dir)
	want := []string{"gw", "gw.lan", "gw.home.example", "Router1", "Router1.lan", "Router1.home.example"}
	if !slices.Equal(got, want) {
		t.Errorf("RouterNames = %q, want %q", got, want)
	}
	p := NewHostPolicy(append(got, "198.18.1.1:8088", "[2001:db8::1]:8088")...)
	for host, ok := range map[string]bool{"router1.home.example:8088": true, "gw": true, "[2001:db8::1]": true,
		"2001:db8::1": true, "router1.example": false, "gw.other": false} {
		if p.Allowed(host) != ok {
			t.Errorf("Allowed(%q) = %v", host, !ok)
		}
	}
}

// A cross-site page can POST text/plain or a form without a CORS
// preflight; neither may log in nor count as a failed login.
func TestLoginTakesOnlyJSON(t *testing.T) {
	h := newHarness(t)
	send := func(ctype, body string) int {
		r := httptest.NewRequest("POST", "/api/login", strings.NewReader(body))
		r.Host, r.RemoteAddr = uiAddr, h.address
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		h.s.ServeHTTP(w, r)
		return w.Code
	}
	good := `{"username":"root","password":"secret"}`
	for _, tt := range []struct {
		ctype, body string
		code        int
	}{
		{"text/plain", good, 415},
		{"text/plain;charset=UTF-8", `{"username":"root","password":"x","z":"=`, 415},
		{"application/x-www-form-urlencoded", `{"username":"root","password":"x"}=`, 415},
		{"multipart/form-data; boundary=x", good, 415},
		{"", good, 415},
		{"application/json", good + `x`, 400},
		{"application/json", good + ` {"username":"root","password":"y"}`, 400},
	} {
		// Again and again: more than the failed-login limit.
		for i := 0; i < LoginFailures+2; i++ {
			if code := send(tt.ctype, strings.Replace(tt.body, `"secret"`, `"wrong`+fmt.Sprint(i)+`"`, 1)); code != tt.code {
				t.Fatalf("Content-Type %q body %q: %d, want %d", tt.ctype, tt.body, code, tt.code)
			}
		}
		if code := send(tt.ctype, tt.body); code != tt.code {
			t.Errorf("Content-Type %q with the right password: %d, want %d", tt.ctype, code, tt.code)
		}
	}
	// None of that locked the admin out.
	if code := send("application/json; charset=utf-8", good); code != http.StatusOK {
		t.Errorf("real login after cross-site attempts: %d, want 200", code)
	}
}

func TestHalfFilledRequests(t *testing.T) {
	h := newHarness(t)
	h.login("root", "secret")
	before := h.file()
	tests := []struct {
		method, path, body string
		field              string
	}{
		{"POST", "/api/config/rules", `null`, "body"},
		{"POST", "/api/config/rules", `[]`, "body"},
		{"POST", "/api/config/rules", `{"proto":"tcp","wan":["wan"],"enabled":null}`, "enabled"},
		{"POST", "/api/config/rules", `{"proto":"tcp","WAN":["wanb"]}`, "WAN"},
		{"POST", "/api/config/rules", `{"proto":"tcp","wan":null}`, "wan"},
		{"POST", "/api/config/rules", `{"proto":"tcp","wan":["wan"],"fallback":"yes"}`, "fallback"},
		{"POST", "/api/config/link_backups", `null`, "body"},
		{"PUT", "/api/config/load_balancing", `null`, "body"},
		{"PUT", "/api/config/load_balancing", `{"load_balancing":true,"app_optimized":false,"bandwidth_based":false,"wans":[{"name":"wan","Weight":5,"upstream":0,"downstream":0}]}`, "wans[0].Weight"},
		{"PUT", "/api/config/load_balancing", `{"load_balancing":true,"app_optimized":false,"bandwidth_based":false,"wans":[{"name":"wan","upstream":0,"downstream":0}]}`, "wans[0].weight"},
		{"PUT", "/api/config/load_balancing", `{"load_balancing":true,"app_optimized":false,"bandwidth_based":false,"wans":[null]}`, "wans[0]"},
		{"PUT", "/api/config/load_balancing", `{"app_optimized":false,"bandwidth_based":false,"wans":[]}`, "load_balancing"},
		{"PUT", "/api/config/online_detection", `{}`, "wans"},
		{"PUT", "/api/config/online_detection", `{"wans":[{"name":"wan"}]}`, "wans[0].detection"},
	}
	for _, tt := range tests {
		w := h.do(tt.method, tt.path, tt.body, true)
		var body struct {
			Errors []fieldError `json:"errors"`
		}
		json.Unmarshal(w.Body.Bytes(), &body)
		found := false
		for _, e := range body.Errors {
			found = found || e.Field == tt.field
		}
		if w.Code != http.StatusBadRequest || !found {
			t.Errorf("%s %s %s: %d %s, want 400 naming %s", tt.method, tt.path, tt.body, w.Code, w.Body, tt.field)
		}
	}
	if after := h.file(); after != before {
		t.Errorf("a refused write changed the file:\n%s", after)
	}
	// A rule that leaves out enabled and fallback gets the UCI defaults:
	// on, as for a section without those options.
	if w := h.do("POST", "/api/config/rules", `{"proto":"tcp","dest_port":"22","wan":["wanb"]}`, true); w.Code != http.StatusOK {
		t.Fatalf("rule with defaults: %d %s", w.Code, w.Body)
	}
	if w := h.do("POST", "/api/config/link_backups", `{"primary":["wan"],"backup":["wanb"]}`, true); w.Code != http.StatusOK {
		t.Fatalf("link backup with defaults: %d %s", w.Code, w.Body)
	}
	want := `config rule
	option enabled '1'
	option proto 'tcp'
	option dest_port '22'
	list wan 'wanb'
	option fallback '1'

config link_backup
	option enabled '1'
	list primary 'wan'
	list backup 'wanb'
	option mode 'failover'
	option trigger 'any'
	option revert '1'

`
	if got := h.file(); !strings.HasSuffix(got, "'1'\n\n"+want) {
		t.Errorf("file:\n%s\nwant it to end in:\n%s", got, want)
	}
}

// A client that sends its body slowly must not hold the config write
// lock: another client saves meanwhile.
func TestSlowBodyDoesNotStallOthers(t *testing.T) {
	h := newHarness(t)
	h.login("root", "secret")
	if w := h.do("POST", "/api/config/rules", `{"proto":"tcp","dest_port":"22","wan":["wan"]}`, true); w.Code != http.StatusOK {
		t.Fatalf("rule: %d %s", w.Code, w.Body)
	}
	var mu sync.Mutex
	active := map[string]bool{}
	srv := httptest.NewUnstartedServer(h.s)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		active[c.RemoteAddr().String()] = s == http.StateActive
		mu.Unlock()
	}
	srv.Start()
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	// The slow client: headers, half its body, then nothing until the
	// other client is done.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	body := `{"proto":"udp","dest_port":"53","wan":["wanb"]}`
	fmt.Fprintf(slow, "PUT /api/config/rules/0 HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nCookie: %s=%s\r\nX-CSRF-Token: %s\r\nContent-Length: %d\r\n\r\n%s",
		addr, SessionCookie, h.cookie.Value, h.csrf, len(body), body[:len(body)/2])
	// Wait until the server has read its headers and runs the handler.
	for end := time.Now().Add(5 * time.Second); ; {
		mu.Lock()
		ok := active[slow.LocalAddr().String()]
		mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the slow client's request never became active")
		}
		time.Sleep(5 * time.Millisecond)
	}

	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("PUT", "http://"+addr+"/api/config/load_balancing",
			strings.NewReader(`{"load_balancing":true,"app_optimized":false,"bandwidth_based":false,"wans":[{"name":"wan","weight":4,"upstream":0,"downstream":0}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", h.csrf)
		req.AddCookie(h.cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case code := <-done:
		if code != http.StatusOK {
			t.Fatalf("the other client's save: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other client's save waited for the slow client's body")
	}
	if !strings.Contains(h.file(), "option weight '4'") {
		t.Errorf("the save is not in the file:\n%s", h.file())
	}
	// The slow client finishes and is served too.
	fmt.Fprint(slow, body[len(body)/2:])
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("slow client: %v %v", resp, err)
	}
	if !strings.Contains(h.file(), "option dest_port '53'") {
		t.Errorf("the slow client's edit is not in the file:\n%s", h.file())
	}
}
