package webui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/openwrttest"
)

// wanlbACL is the package's rpcd ACL group with write access, as the
// tests install it.
const wanlbACL = `{
	"luci-app-wanlb": {
		"description": "wanlb settings",
		"read": { "uci": [ "wanlb" ] },
		"write": { "uci": [ "wanlb" ] }
	}
}`

const (
	rootPW   = `r00t-Secret "pw" $(x)`
	viewerPW = "viewer-pw"
	nobodyPW = "nobody-pw"
	wrongPW  = "guess-0000"
)

// startRealRPCD runs OpenWrt's rpcd with root (all ACL groups), viewer
// (read half of wanlb's group) and nobody (nothing covering wanlb).
func startRealRPCD(t *testing.T) (*openwrttest.Tools, string) {
	t.Helper()
	ow := openwrttest.New(t)
	hash := func(pw string) string {
		h, err := auth.HashSHA512Crypt(pw)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	sock := ow.RPCD(t, []openwrttest.RPCDLogin{
		{Username: "root", Hash: hash(rootPW), Read: []string{"*"}, Write: []string{"*"}},
		{Username: "viewer", Hash: hash(viewerPW), Read: []string{"luci-app-wanlb"}},
		{Username: "nobody", Hash: hash(nobodyPW), Read: []string{"unauthenticated"}},
	}, map[string]string{"luci-app-wanlb.json": wanlbACL})
	return ow, sock
}

// syncBuffer collects the server's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// liveServer is the UI on a real HTTP listener (loopback), logging into a
// buffer.
type liveServer struct {
	t       *testing.T
	url     string
	handler http.Handler
	entered atomic.Int32 // requests that reached the handler
	dir     string
	log     *syncBuffer
	b       *fakeBackend
}

func newLiveServer(t *testing.T, ui config.UI, system Authenticator) *liveServer {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wanlb"), []byte(startConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	ls := &liveServer{t: t, dir: dir, log: &syncBuffer{}, b: &fakeBackend{ui: ui}}
	// The router's own addresses: loopback, and the one the namespace
	// test listens on.
	s := New(Options{ConfigDir: dir, System: system, Log: slog.New(slog.NewTextHandler(ls.log, nil)),
		Hosts: NewHostPolicy("2001:db8:77::1")}, ls.b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ls.entered.Add(1)
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ls.url, ls.handler = srv.URL, s
	return ls
}

type reply struct {
	code   int
	body   map[string]any
	cookie *http.Cookie
}

// do sends one request with an optional session cookie and CSRF token.
func (ls *liveServer) do(method, path, body string, cookie *http.Cookie, csrf string) reply {
	ls.t.Helper()
	req, err := http.NewRequest(method, ls.url+path, strings.NewReader(body))
	if err != nil {
		ls.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ls.t.Fatal(err)
	}
	defer resp.Body.Close()
	r := reply{code: resp.StatusCode}
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &r.body)
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			r.cookie = c
		}
	}
	return r
}

func loginBody(user, pass string) string {
	b, _ := json.Marshal(loginRequest{Username: user, Password: pass})
	return string(b)
}

func (ls *liveServer) login(user, pass string, cookie *http.Cookie) reply {
	return ls.do("POST", "/api/login", loginBody(user, pass), cookie, "")
}

// noSecretsLogged fails the test if any password, or any word of one
// (a log handler may quote or escape the rest), reached the log.
func (ls *liveServer) noSecretsLogged(passwords ...string) {
	ls.t.Helper()
	log := ls.log.String()
	for _, pw := range passwords {
		for _, word := range append(secretWord.FindAllString(pw, -1), pw) {
			if strings.Contains(log, word) {
				ls.t.Errorf("password %q in the log:\n%s", pw, log)
			}
		}
	}
}

var secretWord = regexp.MustCompile(`[A-Za-z0-9-]{6,}`)

const newRule = `{"enabled":true,"name":"web","proto":"tcp","src_ip":[],"dest_ip":[],"src_port":"","dest_port":"80","wan":["wan"],"fallback":true}`

// TestLoginWithRealRPCD: ui.auth 'system' against OpenWrt's rpcd, its
// answers and its ACLs, with no ubus CLI anywhere on PATH.
func TestLoginWithRealRPCD(t *testing.T) {
	_, sock := startRealRPCD(t)
	t.Setenv("PATH", t.TempDir()) // a ubus (or any) process would fail
	ls := newLiveServer(t, config.UI{Auth: "system", SessionTimeout: time.Hour}, auth.RPCD{Socket: sock})

	// root: full access.
	r := ls.login("root", rootPW, nil)
	if r.code != http.StatusOK || r.cookie == nil || r.body["can_write"] != true {
		t.Fatalf("root login: %d %v", r.code, r.body)
	}
	if !r.cookie.HttpOnly || r.cookie.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie flags: %+v", r.cookie)
	}
	csrf, _ := r.body["csrf_token"].(string)
	if w := ls.do("POST", "/api/config/rules", newRule, r.cookie, csrf); w.code != http.StatusOK {
		t.Fatalf("root adding a rule: %d %v", w.code, w.body)
	}

	// viewer: may look, may not change, may log out.
	r = ls.login("viewer", viewerPW, nil)
	if r.code != http.StatusOK || r.body["can_write"] != false {
		t.Fatalf("viewer login: %d %v", r.code, r.body)
	}
	csrf, _ = r.body["csrf_token"].(string)
	for _, path := range []string{"/api/config", "/api/status", "/api/session"} {
		if w := ls.do("GET", path, "", r.cookie, ""); w.code != http.StatusOK {
			t.Errorf("viewer GET %s: %d %v", path, w.code, w.body)
		}
	}
	before, _ := os.ReadFile(filepath.Join(ls.dir, "wanlb"))
	for _, rt := range apiRoutes {
		if rt.method == "GET" || rt.path == "/api/logout" {
			continue
		}
		w := ls.do(rt.method, rt.path, rt.body, r.cookie, csrf)
		msg, _ := w.body["error"].(string)
		if w.code != http.StatusForbidden || !strings.Contains(msg, "no write access to uci config 'wanlb'") {
			t.Errorf("viewer %s %s: %d %q, want 403 naming the missing permission", rt.method, rt.path, w.code, msg)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(ls.dir, "wanlb")); !bytes.Equal(before, after) {
		t.Errorf("a read-only user changed the config:\n%s", after)
	}
	if w := ls.do("POST", "/api/logout", "", r.cookie, csrf); w.code != http.StatusOK {
		t.Errorf("viewer logout: %d %v", w.code, w.body)
	}

	// nobody: right password, no access: 403 at login, and it counts.
	r = ls.login("nobody", nobodyPW, nil)
	if msg, _ := r.body["error"].(string); r.code != http.StatusForbidden || !strings.Contains(msg, "neither read nor write access to uci config 'wanlb'") || r.cookie != nil {
		t.Errorf("nobody login: %d %v", r.code, r.body)
	}
	// Wrong password and unknown user: 401, counted with the above.
	for i, try := range [][2]string{{"root", wrongPW}, {"ghost", rootPW}, {"viewer", rootPW}, {"root", ""}} {
		if r := ls.login(try[0], try[1], nil); r.code != http.StatusUnauthorized {
			t.Errorf("bad login %d (%s): %d %v", i, try[0], r.code, r.body)
		}
	}
	if r := ls.login("root", rootPW, nil); r.code != http.StatusTooManyRequests {
		t.Errorf("after 5 failures: %d %v, want 429", r.code, r.body)
	}
	ls.noSecretsLogged(rootPW, viewerPW, nobodyPW, wrongPW)
}

// TestLoginRPCDUnavailable: rpcd not running or hung answers 503 with a
// log line, quickly, and does not use up the client's guesses (nothing
// was judged, so the client learned nothing).
func TestLoginRPCDUnavailable(t *testing.T) {
	ow, sock := startRealRPCD(t)
	bare := ow.Ubusd(t) // ubusd up, rpcd not
	hung := filepath.Join(t.TempDir(), "hung.sock")
	ln, err := net.Listen("unix", hung)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // accepts and never answers
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	down := filepath.Join(t.TempDir(), "down.sock") // no ubusd there
	const timeout = 300 * time.Millisecond
	rpcd := &auth.RPCD{Socket: down, Timeout: timeout}
	ls := newLiveServer(t, config.UI{Auth: "system", SessionTimeout: time.Hour}, rpcd)

	for _, tc := range []struct{ name, socket, log string }{
		{"rpcd not running", bare, "rpcd is not running"},
		{"ubusd not running", down, "cannot connect to ubusd"},
		{"not answering", hung, "no answer in time"},
	} {
		rpcd.Socket = tc.socket
		for i := range LoginFailures + 1 {
			start := time.Now()
			r := ls.login("root", rootPW, nil)
			if r.code != http.StatusServiceUnavailable {
				t.Fatalf("%s, login %d: %d %v, want 503", tc.name, i, r.code, r.body)
			}
			if took := time.Since(start); took > timeout+2*time.Second {
				t.Errorf("%s: 503 after %v with a %v timeout", tc.name, took, timeout)
			}
		}
		if !strings.Contains(ls.log.String(), tc.log) {
			t.Errorf("%s: no log line saying %q:\n%s", tc.name, tc.log, ls.log)
		}
	}
	t.Logf("the server's log:\n%s", ls.log)
	// rpcd back: the 18 unanswered logins did not block the client.
	rpcd.Socket = sock
	if r := ls.login("root", rootPW, nil); r.code != http.StatusOK {
		t.Errorf("login once rpcd answers: %d %v", r.code, r.body)
	}
	ls.noSecretsLogged(rootPW)
}

// TestLoginReplacesSession: a new login ends the client's previous session.
func TestLoginReplacesSession(t *testing.T) {
	hash, err := auth.HashSHA512Crypt("hunter2!")
	if err != nil {
		t.Fatal(err)
	}
	ls := newLiveServer(t, config.UI{Auth: "password", PasswordHash: hash, SessionTimeout: time.Hour}, nil)
	first := ls.login("root", "hunter2!", nil)
	if first.code != http.StatusOK {
		t.Fatalf("login: %d %v", first.code, first.body)
	}
	second := ls.login("root", "hunter2!", first.cookie)
	if second.code != http.StatusOK || second.cookie == nil || second.cookie.Value == first.cookie.Value {
		t.Fatalf("second login: %d %v", second.code, second.body)
	}
	if r := ls.do("GET", "/api/status", "", first.cookie, ""); r.code != http.StatusUnauthorized {
		t.Errorf("the previous session still works: %d", r.code)
	}
	if r := ls.do("GET", "/api/status", "", second.cookie, ""); r.code != http.StatusOK {
		t.Errorf("the new session does not work: %d", r.code)
	}
	// A failed login leaves the current session alone.
	if r := ls.login("root", "wrong", second.cookie); r.code != http.StatusUnauthorized {
		t.Fatalf("wrong login: %d", r.code)
	}
	if r := ls.do("GET", "/api/status", "", second.cookie, ""); r.code != http.StatusOK {
		t.Errorf("a failed login ended the session: %d", r.code)
	}
}

// guessAtOnce sends wrong logins and the right one from goroutines
// released together, and counts the answers by status.
func guessAtOnce(t *testing.T, send func(user, pass string) int, wrong int, user, right string) map[int]int {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[int]int{}
		start  = make(chan struct{})
	)
	for i := 0; i <= wrong; i++ {
		pass := fmt.Sprintf("guess-%04d", i)
		if i == wrong/2 {
			pass = right
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code := send(user, pass)
			mu.Lock()
			counts[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

// judged is how many logins got a verdict rather than a 429.
func judged(counts map[int]int) int {
	return counts[http.StatusOK] + wrongJudged(counts)
}

// wrongJudged is how many wrong guesses got a verdict: the number the
// limiter bounds. The right password may be judged besides them: a
// success frees its reservation, so one more guess can take the slot.
func wrongJudged(counts map[int]int) int {
	return counts[http.StatusUnauthorized] + counts[http.StatusForbidden]
}

// TestConcurrentGuessing is the attack that had 499 guesses judged in
// half a second: hundreds of wrong logins and the right one, all at once
// from one address, against the real HTTP server, in both auth modes.
func TestConcurrentGuessing(t *testing.T) {
	const wrong = 300
	hash, err := auth.HashSHA512Crypt(rootPW)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"password", "system"} {
		t.Run(mode, func(t *testing.T) {
			var ls *liveServer
			if mode == "system" {
				_, sock := startRealRPCD(t)
				ls = newLiveServer(t, config.UI{Auth: "system", SessionTimeout: time.Hour}, auth.RPCD{Socket: sock})
			} else {
				ls = newLiveServer(t, config.UI{Auth: "password", PasswordHash: hash, SessionTimeout: time.Hour}, nil)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: wrong + 1}}
			defer client.CloseIdleConnections()
			var n atomic.Int32
			counts := guessAtOnce(t, func(user, pass string) int {
				req, _ := http.NewRequest("POST", ls.url+"/api/login", strings.NewReader(loginBody(user, pass)))
				req.Header.Set("Content-Type", "application/json")
				// Hostile headers claiming another client each time
				// change nothing: the limit is per connection address.
				i := n.Add(1)
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.18.%d.%d", i/250, i%250+1))
				req.Header.Set("X-Real-IP", fmt.Sprintf("198.19.%d.%d", i/250, i%250+1))
				req.Header.Set("Forwarded", fmt.Sprintf("for=198.18.%d.%d", i/250, i%250+1))
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return 0
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}, wrong, "root", rootPW)
			t.Logf("%d simultaneous logins: %v", wrong+1, counts)
			if n := judged(counts); wrongJudged(counts) > LoginFailures || counts[http.StatusTooManyRequests] != wrong+1-n {
				t.Errorf("%d wrong guesses judged, want at most %d, the rest 429: %v", wrongJudged(counts), LoginFailures, counts)
			}
			if counts[http.StatusOK] == 0 {
				// The right one came too late: the client is blocked.
				if r := ls.login("root", rootPW, nil); r.code != http.StatusTooManyRequests {
					t.Errorf("after the burst: %d, want 429", r.code)
				}
			}
			ls.noSecretsLogged(rootPW)
		})
	}
}

// TestSlowLoginsHoldNoSlot: logins whose bodies trickle in (or never
// finish) from the same address hold none of its 5 slots, so they cannot
// lock out the address's other users; slots are taken only to judge.
func TestSlowLoginsHoldNoSlot(t *testing.T) {
	hash, err := auth.HashSHA512Crypt(rootPW)
	if err != nil {
		t.Fatal(err)
	}
	ls := newLiveServer(t, config.UI{Auth: "password", PasswordHash: hash, SessionTimeout: time.Hour}, nil)
	host := strings.TrimPrefix(ls.url, "http://")
	body := loginBody("root", wrongPW)
	for range 4 * LoginFailures {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Headers and half the body; the rest never comes.
		fmt.Fprintf(c, "POST /api/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			host, len(body), body[:len(body)/2])
	}
	// Wait until every slow request reached the handler (where it waits
	// for the rest of its body).
	for deadline := time.Now().Add(10 * time.Second); ls.entered.Load() < 4*LoginFailures; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d slow requests reached the handler", ls.entered.Load(), 4*LoginFailures)
		}
	}
	if r := ls.login("root", wrongPW, nil); r.code != http.StatusUnauthorized {
		t.Errorf("wrong login beside %d slow ones: %d %v, want 401", 4*LoginFailures, r.code, r.body)
	}
	if r := ls.login("root", rootPW, nil); r.code != http.StatusOK {
		t.Errorf("right login beside %d slow ones: %d %v, want 200", 4*LoginFailures, r.code, r.body)
	}
}
