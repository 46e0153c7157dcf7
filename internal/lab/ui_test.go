package lab_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
	"github.com/wanlb/wanlb/internal/uciconf"
)

const uiPassword = "lab password 1"

// e2eDir is web/e2e, where the browser test script and its npm package are.
func e2eDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "web", "e2e")
}

// requireBrowser makes sure node, Debian's chromium and playwright-core are
// there; in CI their absence is a failure, elsewhere a skip.
func requireBrowser(t *testing.T) string {
	dir := e2eDir(t)
	missing := ""
	for _, tool := range []string{"node", "npm", "/usr/bin/chromium"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = tool
		}
	}
	if missing == "" {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
			cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				missing = "playwright-core (npm ci: " + err.Error() + ": " + string(out) + ")"
			}
		}
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need %s (make deps installs it)", missing)
		}
		t.Skipf("browser tests need %s", missing)
	}
	return dir
}

// TestWebUI drives the real UI in headless Chromium from the LAN client,
// against the real daemon in the router, and checks the results on real
// traffic and in the config file.
func TestWebUI(t *testing.T) {
	labtest.RequireRoot(t)
	dir := requireBrowser(t)
	l := newLab(t, lab.Options{ISPs: 2})
	hash, err := auth.HashSHA512Crypt(uiPassword)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, l, "config ui 'ui'\n\tlist listen '198.18.1.1:8088'\n\toption auth 'password'\n\toption password_hash '"+hash+"'\n"+
		"\toption metrics '1'\n\tlist metrics_allow '198.18.1.0/24'\n\n"+labWANs(l, nil))
	d.waitAllOnline(15 * time.Second)
	// Saved with the build output (make's dist/), so a test run leaves the
	// tree clean; the README's copies in web/screenshots come from here.
	shots := filepath.Join(dir, "..", "..", "dist", "screenshots")
	os.MkdirAll(shots, 0o755)
	step := func(name string) {
		t.Helper()
		out, err := l.Exec(l.Client, "env", "WANLB_PASSWORD="+uiPassword, "HOME="+t.TempDir(),
			"node", filepath.Join(dir, "ui.mjs"), name, "http://198.18.1.1:8088/", shots)
		t.Logf("browser step %s:\n%s", name, strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("browser step %s failed: %v", name, err)
		}
	}

	// Log in (a wrong password first), look at every page.
	step("pages")
	// The detection dialog's timeout follows a new interval.
	step("timeout")

	// The LAN may scrape /metrics without a session: real probe counts.
	// The connection is opened inside the client namespace (net/http would
	// dial on a goroutine of its own, in the host's namespace).
	conn, err := l.DialTCP(l.Client, "198.18.1.1:8088")
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, "GET /metrics HTTP/1.0\r\nHost: 198.18.1.1\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
	}
	conn.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `wanlb_wan_state{wan="wan1",state="online"} 1`) ||
		!regexp.MustCompile(`wanlb_wan_probes_ok_total\{wan="wan2"\} [1-9]`).Match(body) {
		t.Errorf("metrics from the LAN: %v\n%.2000s", err, body)
	}

	// Weights 3:1 through the Load Balancing page change the traffic.
	before := counts(t, l, 300)
	step("weights")
	after := counts(t, l, 600)
	t.Logf("wan1's share of new connections: %.2f before, %.2f after setting 3:1 in the browser",
		float64(before[1])/300, float64(after[1])/600)
	if s := float64(after[1]) / 600; s < 0.65 || s > 0.85 {
		t.Errorf("after weights 3:1 in the UI, wan1 carries %.2f of new connections", s)
	}

	// A link backup entry added in the browser lands in the config file.
	step("backup")
	f, err := uciconf.ReadFile(filepath.Join(d.configDir, "wanlb"))
	if err != nil {
		t.Fatal(err)
	}
	entries := f.OfType("link_backup")
	if len(entries) != 1 {
		t.Fatalf("config has %d link_backup sections after adding one in the UI", len(entries))
	}
	p, _ := entries[0].Get("primary")
	b, _ := entries[0].Get("backup")
	if p == nil || b == nil || strings.Join(p.Values, " ") != "wan1" || strings.Join(b.Values, " ") != "wan2" {
		t.Errorf("link backup entry in the file: primary %v backup %v", p, b)
	}

	// Passive detection's window, edited on the Online Detection page.
	step("passive")
	if data, err := os.ReadFile(filepath.Join(d.configDir, "wanlb")); err != nil || !strings.Contains(string(data), "option passive_window '0.6'") {
		t.Errorf("passive_window not saved from the UI: %v\n%s", err, data)
	}

	// A blackholed WAN turns its Status card offline.
	if err := l.Blackhole(2); err != nil {
		t.Fatal(err)
	}
	step("offline")
	l.Heal(2)

	// Wrong passwords: refused, then locked out.
	step("lockout")
}
