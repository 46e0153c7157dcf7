package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/daemon"
	"github.com/wanlb/wanlb/internal/labtest"
)

// syncBuffer collects the demo's output from several goroutines.
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

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{}, {"frob"}, {"break", "isp2"}, {"break", "isp2", "fire"}, {"break", "ispx", "carrier"},
		{"break", "isp2", "loss=120"}, {"heal"}, {"heal", "isp0"}, {"status", "-v"}, {"demo", "extra"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(append([]string{"wanlb-lab", "--state", t.TempDir()}, args...), &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr %s", args, code, errOut.String())
		} else if !strings.Contains(errOut.String(), "usage:") {
			t.Errorf("%q: stderr lacks the usage: %s", args, errOut.String())
		}
	}
	var errOut bytes.Buffer
	if code := Main([]string{"wanlb-lab", "--state", t.TempDir(), "heal", "isp2"}, &bytes.Buffer{}, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "no demo is running") {
		t.Errorf("heal without a demo: exit %d, stderr %s", code, errOut.String())
	}
}

// TestDemo runs the demo as `make demo` does, but with a test state dir and
// a freshly built wanlb, logs in through the relay from the host
// namespace, breaks and heals ISP 2, stops it and checks that nothing is
// left.
func TestDemo(t *testing.T) {
	labtest.RequireRoot(t)
	if c, err := net.DialTimeout("tcp", DefaultListen, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s is in use (a running `make demo`?); the demo test needs it free", DefaultListen)
	}
	t0 := time.Now()
	bin := filepath.Join(t.TempDir(), "wanlb")
	build := exec.Command("go", "build", "-o", bin, "github.com/wanlb/wanlb/cmd/wanlb")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built wanlb in %s", time.Since(t0).Round(100*time.Millisecond))
	stateDir := filepath.Join(t.TempDir(), "state")
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{StateDir: stateDir, Wanlb: bin, Out: &out}) }()
	defer func() {
		if t.Failed() {
			t.Logf("demo output:\n%s", out.String())
		}
	}()

	// The UI answers in the host namespace once the WANs are online.
	hc := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	for {
		resp, err := hc.Get("http://" + DefaultListen + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("demo ended early: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Since(start) > 40*time.Second {
			t.Fatalf("UI not answering on %s after 40 s: %v", DefaultListen, err)
		}
	}
	t.Logf("UI up after %s", time.Since(start).Round(100*time.Millisecond))
	if !strings.Contains(out.String(), Password) {
		t.Errorf("instructions lack the password:\n%s", out.String())
	}
	body, _ := json.Marshal(map[string]string{"username": User, "password": Password})
	resp, err := hc.Post("http://"+DefaultListen+"/api/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var login map[string]string
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || login["csrf_token"] == "" {
		t.Errorf("login: %s, %v", resp.Status, login)
	}

	st, err := ReadState(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if code := Main([]string{"wanlb-lab", "--state", stateDir, "break", "isp4", "carrier"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
		t.Errorf("break isp4 in a 3-ISP demo: exit %d, want 2", code)
	}
	if err := Break(stateDir, 2, "blackhole"); err != nil {
		t.Fatal(err)
	}
	waitState := func(want string) {
		t.Helper()
		start := time.Now()
		for {
			s, err := daemon.Client{RunDir: st.RunDir}.Status()
			if err == nil && len(s.WANs) == 3 && s.WANs[1].State == want {
				t.Logf("wan2 %s after %s", want, time.Since(start).Round(100*time.Millisecond))
				return
			}
			if time.Since(start) > 15*time.Second {
				t.Fatalf("wan2 not %s within 15 s: %+v %v", want, s.WANs, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitState("offline")
	if text, err := Status(stateDir); err != nil || !strings.Contains(text, "offline") {
		t.Errorf("status: %v\n%s", err, text)
	}
	if err := Heal(stateDir, 2); err != nil {
		t.Fatal(err)
	}
	waitState("online")
	if q, _ := exec.Command("tc", "-n", Prefix+"isp2", "qdisc", "show", "dev", "r0").CombinedOutput(); !strings.Contains(string(q), "tbf") {
		t.Errorf("heal lost ISP 2's bandwidth limit: %s", q)
	}

	cancel()
	t0 = time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		t.Logf("stopped and cleaned up in %s", time.Since(t0).Round(100*time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20 s of cancel")
	}
	checkGone(t, bin, stateDir)
}

// checkGone asserts that the demo left nothing behind.
func checkGone(t *testing.T, bin, stateDir string) {
	t.Helper()
	ns, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	for _, line := range strings.Split(string(ns), "\n") {
		if strings.HasPrefix(line, Prefix) {
			t.Errorf("namespace left: %s", line)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(bin)) {
			t.Errorf("wanlb process left: %s: %q", p, b)
		}
	}
	if c, err := net.DialTimeout("tcp", DefaultListen, time.Second); err == nil {
		c.Close()
		t.Errorf("something still listens on %s", DefaultListen)
	}
	for _, args := range [][]string{{"-4", "addr"}, {"-4", "route", "show", "table", "all"}} {
		b, _ := exec.Command("ip", args...).CombinedOutput()
		if strings.Contains(string(b), "198.18.") || strings.Contains(string(b), "198.19.") {
			t.Errorf("host namespace `ip %s` shows a lab address:\n%s", strings.Join(args, " "), b)
		}
	}
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		t.Errorf("state dir %s left: %v", stateDir, err)
	}
}
