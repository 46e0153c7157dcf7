package webui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/config"
)

type fakeBackend struct {
	ui      config.UI
	reloads int
}

func (b *fakeBackend) Status(context.Context) (any, error) {
	return map[string]any{"wans": []map[string]any{{"name": "wan", "state": "online"}}}, nil
}
func (b *fakeBackend) History(context.Context) (any, error) {
	return map[string]any{"interval_s": 5}, nil
}
func (b *fakeBackend) Reload(context.Context) (bool, []string, error) {
	b.reloads++
	return true, nil, nil
}
func (b *fakeBackend) UI() config.UI { return b.ui }
func (b *fakeBackend) Metrics(context.Context) (Metrics, error) {
	return Metrics{Applies: 3, ApplySeconds: 0.042, WANs: []WANMetrics{
		{Name: "wan", State: "online", Active: true, Share: 0.75, RTTSeconds: 0.012, LossRatio: 0.05, RxBytes: 1 << 40, TxBytes: 12345, StateChanges: 2, Probes: 120, ProbesOK: 114,
			IPv6: &WAN6Metrics{State: "offline", Share: 0, RTTSeconds: 0.02, LossRatio: 1, StateChanges: 1, Probes: 60, ProbesOK: 50}},
		{Name: "wanb", State: "offline", StateChanges: 1, Probes: 120, Offline: map[string]int{"traffic": 1}, Suspicions: 3, Cleared: 2},
	}}, nil
}

// fakeRouter stands in for rpcd: root / secret.
type fakeRouter struct{}

func (fakeRouter) Login(_ context.Context, u, p string) (auth.Access, error) {
	if u == "root" && p == "secret" {
		return auth.Full, nil
	}
	return auth.Access{}, auth.ErrInvalidLogin
}

const startConfig = `
config globals 'globals'
	option load_balancing '1'

config wan 'wan'
	option device 'eth1'
	option weight '1'

config wan 'wanb'
	option label 'Bob'\''s LTE'
	option device 'wwan0'
	option weight '1'
`

// uiAddr is where the harness's UI listens; requests name it as Host.
const uiAddr = "198.18.1.1:8088"

type harness struct {
	t       testing.TB
	s       *Server
	b       *fakeBackend
	dir     string
	now     time.Time
	cookie  *http.Cookie
	csrf    string
	address string
}

func newHarness(t testing.TB) *harness {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wanlb"), []byte(startConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: dir, now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC), address: "198.18.1.2:40000",
		b: &fakeBackend{ui: config.UI{Auth: "system", SessionTimeout: time.Hour}}}
	h.s = New(Options{ConfigDir: dir, System: fakeRouter{}, Now: func() time.Time { return h.now },
		Hosts:  NewHostPolicy("OpenWrt", "OpenWrt.lan", uiAddr),
		Static: fstest.MapFS{"index.html": {Data: []byte("<html>wanlb</html>")}}}, h.b)
	return h
}

// do sends a request with the harness's session (if any) and CSRF token.
func (h *harness) do(method, path, body string, withCSRF bool) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = h.address
	r.Host = uiAddr
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if h.cookie != nil {
		r.AddCookie(h.cookie)
	}
	if withCSRF {
		r.Header.Set("X-CSRF-Token", h.csrf)
	}
	w := httptest.NewRecorder()
	h.s.ServeHTTP(w, r)
	return w
}

func (h *harness) login(user, pass string) *httptest.ResponseRecorder {
	w := h.do("POST", "/api/login", `{"username":"`+user+`","password":"`+pass+`"}`, false)
	if w.Code == http.StatusOK {
		for _, c := range w.Result().Cookies() {
			if c.Name == SessionCookie {
				h.cookie = c
			}
		}
		var body map[string]string
		json.Unmarshal(w.Body.Bytes(), &body)
		h.csrf = body["csrf_token"]
	}
	return w
}

func (h *harness) file() string {
	b, err := os.ReadFile(filepath.Join(h.dir, "wanlb"))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

var apiRoutes = []struct{ method, path, body string }{
	{"POST", "/api/logout", ""},
	{"GET", "/api/session", ""},
	{"GET", "/api/status", ""},
	{"GET", "/api/history", ""},
	{"GET", "/api/config", ""},
	{"GET", "/api/schema", ""},
	{"PUT", "/api/config/load_balancing", `{}`},
	{"PUT", "/api/config/online_detection", `{}`},
	{"POST", "/api/config/link_backups", `{}`},
	{"PUT", "/api/config/link_backups/0", `{}`},
	{"DELETE", "/api/config/link_backups/0", ""},
	{"POST", "/api/config/rules", `{}`},
	{"PUT", "/api/config/rules/0", `{}`},
	{"DELETE", "/api/config/rules/0", ""},
	{"POST", "/api/config/rules/0/move", `{"to":0}`},
	{"GET", "/api/nonexistent", ""},
}

func TestEveryEndpointNeedsASession(t *testing.T) {
	h := newHarness(t)
	for _, r := range apiRoutes {
		if w := h.do(r.method, r.path, r.body, false); w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a session: %d, want 401", r.method, r.path, w.Code)
		}
	}
	// A made-up session is no session.
	h.cookie = &http.Cookie{Name: SessionCookie, Value: "forged"}
	if w := h.do("GET", "/api/status", "", false); w.Code != http.StatusUnauthorized {
		t.Errorf("forged session: %d", w.Code)
	}
	// The pages themselves (the login page and its assets) need none.
	h.cookie = nil
	if w := h.do("GET", "/index.html", "", false); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "wanlb") {
		t.Errorf("index without a session: %d", w.Code)
	}
}

func TestLogin(t *testing.T) {
	h := newHarness(t)
	w := h.login("root", "secret")
	if w.Code != http.StatusOK || h.csrf == "" || h.cookie == nil {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	if !h.cookie.HttpOnly || h.cookie.SameSite != http.SameSiteStrictMode || h.cookie.Path != "/" {
		t.Errorf("cookie flags: %+v", h.cookie)
	}
	if w := h.do("GET", "/api/status", "", false); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"state":"online"`) {
		t.Errorf("status with a session: %d %s", w.Code, w.Body)
	}
	if w := h.do("GET", "/api/session", "", false); !strings.Contains(w.Body.String(), h.csrf) {
		t.Errorf("session does not give back the CSRF token: %s", w.Body)
	}
	// Logout ends the session.
	if w := h.do("POST", "/api/logout", "", true); w.Code != http.StatusOK {
		t.Fatalf("logout: %d", w.Code)
	}
	if w := h.do("GET", "/api/status", "", false); w.Code != http.StatusUnauthorized {
		t.Errorf("after logout: %d", w.Code)
	}
}

func TestLoginRateLimit(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 5; i++ {
		if w := h.login("root", "wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failed login %d: %d", i, w.Code)
		}
	}
	// Blocked now, even with the right password.
	if w := h.login("root", "secret"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("6th login within a minute: %d, want 429", w.Code)
	}
	// Another client is not blocked; a forwarded-for header changes nothing.
	h.address = "198.18.1.3:40000"
	if w := h.login("root", "secret"); w.Code != http.StatusOK {
		t.Errorf("other client: %d", w.Code)
	}
	h.address = "198.18.1.2:40001"
	r := httptest.NewRequest("POST", "/api/login", strings.NewReader(`{"username":"root","password":"secret"}`))
	r.RemoteAddr = h.address
	r.Host = uiAddr
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Forwarded-For", "198.18.1.99")
	w := httptest.NewRecorder()
	h.s.ServeHTTP(w, r)
	if w.Code != http.StatusTooManyRequests {
		t.Errorf("X-Forwarded-For dodged the limit: %d", w.Code)
	}
	// A minute later the client may try again.
	h.now = h.now.Add(61 * time.Second)
	if w := h.login("root", "secret"); w.Code != http.StatusOK {
		t.Errorf("after the window: %d", w.Code)
	}
}

func TestCSRF(t *testing.T) {
	h := newHarness(t)
	h.login("root", "secret")
	body := `{"load_balancing":true,"app_optimized":false,"bandwidth_based":false,"wans":[]}`
	if w := h.do("PUT", "/api/config/load_balancing", body, false); w.Code != http.StatusForbidden {
		t.Errorf("without the token: %d, want 403", w.Code)
	}
	good := h.csrf
	h.csrf = "nope"
	if w := h.do("PUT", "/api/config/load_balancing", body, true); w.Code != http.StatusForbidden {
		t.Errorf("wrong token: %d, want 403", w.Code)
	}
	h.csrf = good
	if w := h.do("PUT", "/api/config/load_balancing", body, true); w.Code != http.StatusOK {
		t.Errorf("right token: %d %s", w.Code, w.Body)
	}
}

func TestSessionExpires(t *testing.T) {
	h := newHarness(t)
	h.b.ui.SessionTimeout = 10 * time.Minute
	h.login("root", "secret")
	h.now = h.now.Add(9 * time.Minute)
	if w := h.do("GET", "/api/status", "", false); w.Code != http.StatusOK {
		t.Fatalf("within the timeout: %d", w.Code)
	}
	h.now = h.now.Add(11 * time.Minute)
	if w := h.do("GET", "/api/status", "", false); w.Code != http.StatusUnauthorized {
		t.Errorf("after the timeout: %d", w.Code)
	}
}

func TestPasswordAuth(t *testing.T) {
	h := newHarness(t)
	hash, err := auth.HashSHA512Crypt("hunter2")
	if err != nil {
		t.Fatal(err)
	}
	h.b.ui = config.UI{Auth: "password", PasswordHash: hash, SessionTimeout: time.Hour}
	if w := h.login("root", "secret"); w.Code != http.StatusUnauthorized {
		t.Errorf("router password in password mode: %d", w.Code)
	}
	if w := h.login("root", "hunter2"); w.Code != http.StatusOK {
		t.Errorf("right password: %d %s", w.Code, w.Body)
	}
}

func TestWritesExactUCI(t *testing.T) {
	h := newHarness(t)
	h.login("root", "secret")
	put := func(method, path, body string) {
		t.Helper()
		if w := h.do(method, path, body, true); w.Code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
	}
	put("PUT", "/api/config/load_balancing", `{"load_balancing":true,"app_optimized":true,"bandwidth_based":false,
		"wans":[{"name":"wan","weight":3,"upstream":50000,"downstream":500000},{"name":"wanb","weight":1,"upstream":0,"downstream":20000}]}`)
	put("PUT", "/api/config/online_detection", `{"wans":[{"name":"wan","detection":"manual","track":["198.18.100.1","dns://198.18.100.1/x.test"],
		"reliability":1,"interval":0.5,"timeout":1,"down":3,"up":3,"max_latency":250,"max_loss":0,"passive":false,"passive_window":0.8}]}`)
	put("POST", "/api/config/link_backups", `{"enabled":true,"name":"LTE backup","primary":["wan"],"backup":["wanb"],"mode":"failover",
		"trigger":"any","revert":false,"weekdays":"","start_time":"","stop_time":""}`)
	put("POST", "/api/config/rules", `{"enabled":true,"name":"Bob's VoIP","proto":"udp","src_ip":[],"dest_ip":["198.19.0.0/16"],
		"src_port":"","dest_port":"5060","wan":["wanb"],"fallback":false}`)
	put("POST", "/api/config/rules", `{"enabled":true,"name":"web","proto":"tcp","src_ip":[],"dest_ip":[],"src_port":"","dest_port":"80 443","wan":["wan"],"fallback":true}`)
	put("POST", "/api/config/rules/1/move", `{"to":0}`)
	want := `
config globals 'globals'
	option load_balancing '1'
	option app_optimized '1'
	option bandwidth_based '0'

config wan 'wan'
	option device 'eth1'
	option weight '3'
	option upstream '50000'
	option downstream '500000'
	option detection 'manual'
	list track '198.18.100.1'
	list track 'dns://198.18.100.1/x.test'
	option reliability '1'
	option interval '0.5'
	option timeout '1'
	option down '3'
	option up '3'
	option max_latency '250'
	option max_loss '0'
	option passive '0'
	option passive_window '0.8'

config wan 'wanb'
	option label 'Bob'\''s LTE'
	option device 'wwan0'
	option weight '1'
	option upstream '0'
	option downstream '20000'

config link_backup
	option enabled '1'
	option name 'LTE backup'
	list primary 'wan'
	list backup 'wanb'
	option mode 'failover'
	option trigger 'any'
	option revert '0'

config rule
	option enabled '1'
	option name 'web'
	option proto 'tcp'
	option dest_port '80 443'
	list wan 'wan'
	option fallback '1'

config rule
	option enabled '1'
	option name 'Bob'\''s VoIP'
	option proto 'udp'
	list dest_ip '198.19.0.0/16'
	option dest_port '5060'
	list wan 'wanb'
	option fallback '0'

`
	if got := h.file(); got != want {
		t.Errorf("config file:\n%s\nwant:\n%s", got, want)
	}
	if h.b.reloads != 6 {
		t.Errorf("%d reloads, want one per write (6)", h.b.reloads)
	}
	// Read back through the API.
	w := h.do("GET", "/api/config", "", false)
	var cfg configJSON
	if err := json.Unmarshal(w.Body.Bytes(), &cfg); err != nil || len(cfg.Rules) != 2 || cfg.Rules[1].Name != "Bob's VoIP" || cfg.WANs[1].Label != "Bob's LTE" || cfg.WANs[0].Interval != 0.5 {
		t.Errorf("config read back: %v %+v", err, cfg)
	}
	put("DELETE", "/api/config/rules/0", "")
	put("DELETE", "/api/config/link_backups/0", "")
	if got := h.file(); strings.Contains(got, "link_backup") || strings.Contains(got, "'web'") || !strings.Contains(got, "Bob'\\''s VoIP") {
		t.Errorf("after deletes:\n%s", got)
	}
}

func TestInvalidWritesChangeNothing(t *testing.T) {
	h := newHarness(t)
	h.login("root", "secret")
	before := h.file()
	tests := []struct {
		method, path, body string
		code               int
		field              string
	}{
		{"PUT", "/api/config/load_balancing", `{"load_balancing":true,"app_optimized":false,"bandwidth_based":false,"wans":[{"name":"wan","weight":500,"upstream":0,"downstream":0}]}`, 400, "wan.weight"},
		{"PUT", "/api/config/load_balancing", `{"load_balancing":true,"app_optimized":false,"bandwidth_based":true,"wans":[]}`, 400, "wan.downstream"},
		{"PUT", "/api/config/load_balancing", `{"load_balancing":true,"wans":[{"name":"nope","weight":1}]}`, 400, ""},
		{"PUT", "/api/config/online_detection", `{"wans":[{"name":"wan","detection":"manual","track":["ftp://x"],"reliability":1,"interval":0.1,"timeout":1,"down":3,"up":3,"max_latency":0,"max_loss":0}]}`, 400, "wan.track"},
		{"PUT", "/api/config/online_detection", `{"wans":[{"name":"wan","detection":"auto","track":[],"reliability":1,"interval":1,"timeout":1,"down":3,"up":3,"max_latency":0,"max_loss":0,"passive_window":0.05}]}`, 400, "wan.passive_window"},
		{"POST", "/api/config/link_backups", `{"enabled":true,"primary":["wan"],"backup":["wan"],"mode":"failover","trigger":"any","revert":true}`, 400, "link_backups[0].backup"},
		{"POST", "/api/config/rules", `{"enabled":true,"proto":"all","dest_port":"80","wan":["wan"],"fallback":true}`, 400, "rules[0].proto"},
		{"POST", "/api/config/rules", `{"enabled":true,"proto":"tcp","wan":["wan"],"src_ip":["198.18.0.9-198.18.0.1"],"fallback":true}`, 400, "rules[0].src_ip"},
		{"POST", "/api/config/rules", `{"enabled":true,"proto":"tcp","wan":["wan"],"fallback":true,"sneaky":1}`, 400, ""},
		{"POST", "/api/config/rules", `not json`, 400, ""},
		{"PUT", "/api/config/rules/7", `{"enabled":true,"proto":"tcp","wan":["wan"]}`, 404, ""},
		{"POST", "/api/config/rules", `{"name":"` + strings.Repeat("x", MaxBody) + `"}`, 413, ""},
	}
	for _, tt := range tests {
		w := h.do(tt.method, tt.path, tt.body, true)
		if w.Code != tt.code {
			t.Errorf("%s %s: %d, want %d: %.200s", tt.method, tt.path, w.Code, tt.code, w.Body)
			continue
		}
		if tt.field != "" {
			var body struct {
				Errors []fieldError `json:"errors"`
			}
			json.Unmarshal(w.Body.Bytes(), &body)
			found := false
			for _, e := range body.Errors {
				found = found || e.Field == tt.field
			}
			if !found {
				t.Errorf("%s %s: errors %+v lack field %s", tt.method, tt.path, body.Errors, tt.field)
			}
		}
	}
	if after := h.file(); after != before {
		t.Errorf("a refused write changed the file:\n%s", after)
	}
	if h.b.reloads != 0 {
		t.Errorf("refused writes reloaded the daemon %d times", h.b.reloads)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	w := h.do("GET", "/index.html", "", false)
	for _, k := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if w.Header().Get(k) == "" {
			t.Errorf("missing %s", k)
		}
	}
}
