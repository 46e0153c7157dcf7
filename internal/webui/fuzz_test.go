package webui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/uciconf"
)

// fuzzRoutes are the config API's writes; {id} takes the fuzzed path id.
var fuzzRoutes = []struct{ method, path string }{
	{"PUT", "/api/config/load_balancing"},
	{"PUT", "/api/config/online_detection"},
	{"POST", "/api/config/link_backups"},
	{"PUT", "/api/config/link_backups/{id}"},
	{"DELETE", "/api/config/link_backups/{id}"},
	{"POST", "/api/config/rules"},
	{"PUT", "/api/config/rules/{id}"},
	{"DELETE", "/api/config/rules/{id}"},
	{"POST", "/api/config/rules/{id}/move"},
}

// fuzzConfig has a rule and a link backup for the ids to point at.
const fuzzConfig = startConfig + `
config link_backup
	option primary 'wan'
	option backup 'wanb'

config rule
	option proto 'tcp'
	option dest_port '22'
	list wan 'wan'
`

// FuzzConfigAPI sends any body and path id to every config write. The
// server never fails (5xx), a refused write leaves the file exactly as it
// was and reloads nothing, and an accepted one leaves a file that parses
// and validates.
func FuzzConfigAPI(f *testing.F) {
	seeds := []string{
		`{"load_balancing":true,"app_optimized":true,"bandwidth_based":false,"wans":[{"name":"wan","weight":3,"upstream":50000,"downstream":500000}]}`,
		`{"wans":[{"name":"wan","detection":"manual","track":["198.18.100.1","dns://198.18.100.1/x.test"],"reliability":1,"interval":0.5,"timeout":1,"down":3,"up":3,"max_latency":250,"max_loss":0}]}`,
		`{"enabled":true,"name":"LTE backup","primary":["wan"],"backup":["wanb"],"mode":"failover","trigger":"any","revert":false,"weekdays":"mon tue","start_time":"08:00","stop_time":"18:00"}`,
		`{"enabled":true,"name":"Bob's VoIP","proto":"udp","src_ip":[],"dest_ip":["198.19.0.0/16"],"src_port":"","dest_port":"5060","wan":["wanb"],"fallback":false}`,
		`{"proto":"tcp","wan":["wan"],"name":"a'b\nc"}`,
		`{"to":0}`, `{"to":-1}`, `null`, `{}`, `[]`, `{"Weight":5}`, `{"to":0} {"to":1}`,
	}
	ids := []string{"0", "1", "-1", "99999999999999999999", " 0", "0x0", "", "../0"}
	for i, s := range seeds {
		f.Add(uint8(i), ids[i%len(ids)], []byte(s))
	}
	// One server and session for all runs; each run starts from the
	// same file.
	h := newHarness(f)
	if w := h.login("root", "secret"); w.Code != http.StatusOK {
		f.Fatalf("login: %d", w.Code)
	}
	f.Fuzz(func(t *testing.T, route uint8, id string, body []byte) {
		h.writeFile(fuzzConfig)
		h.b.reloads = 0
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path := strings.Replace(r.path, "{id}", url.PathEscape(id), 1)
		before := h.file()
		w := h.do(r.method, path, string(body), true)
		after := h.file()
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, path, body, w.Code, w.Body)
		}
		if w.Code != http.StatusOK {
			if after != before || h.b.reloads != 0 {
				t.Fatalf("%s %s %q refused (%d) but the file changed (reloads %d):\n%s", r.method, path, body, w.Code, h.b.reloads, after)
			}
			return
		}
		file, err := uciconf.Parse(strings.NewReader(after))
		if err != nil {
			t.Fatalf("%s %s %q wrote a file uci cannot parse: %v\n%s", r.method, path, body, err, after)
		}
		if _, ps := config.FromUCI(file); len(config.Errors(ps)) > 0 {
			t.Fatalf("%s %s %q wrote an invalid config: %v\n%s", r.method, path, body, ps, after)
		}
		if h.b.reloads != 1 {
			t.Fatalf("accepted write reloaded %d times", h.b.reloads)
		}
	})
}

// FuzzLogin sends any body and content type to POST /api/login: no 5xx,
// and only the exact JSON credentials log in.
func FuzzLogin(f *testing.F) {
	f.Add("application/json", []byte(`{"username":"root","password":"secret"}`))
	f.Add("application/json; charset=utf-8", []byte(`{"username":"root","password":"secret"} `))
	f.Add("text/plain", []byte(`{"username":"root","password":"secret"}`))
	f.Add("application/json", []byte(`{"username":"root","password":"secret"}x`))
	f.Add("application/json", []byte(`{"Username":"root","Password":"secret"}`))
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		// Each run an hour after the last: the failed-login limit is
		// not under test here.
		h.now = h.now.Add(time.Hour)
		r := httptestRequest("POST", "/api/login", string(body))
		r.Header.Set("Content-Type", ctype)
		w := h.serve(r)
		if w.Code >= 500 {
			t.Fatalf("%q %q: %d %s", ctype, body, w.Code, w.Body)
		}
		if w.Code == http.StatusOK && !strings.Contains(string(body), `"secret"`) {
			t.Fatalf("%q %q logged in", ctype, body)
		}
	})
}

func (h *harness) writeFile(text string) {
	if err := os.WriteFile(filepath.Join(h.dir, "wanlb"), []byte(text), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// httptestRequest is a request to the harness's UI address.
func httptestRequest(method, path, body string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Host = uiAddr
	r.RemoteAddr = "198.18.1.2:40000"
	return r
}

func (h *harness) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.s.ServeHTTP(w, r)
	return w
}
