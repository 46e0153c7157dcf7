package daemon

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
)

// TestHooksDoNotHoldUpStop: waitHooks (the daemon's stop) returns within
// HookWaitDelay and a little, whether a hook left a child holding its
// output or is still waiting for one; the running hook's group is killed.
func TestHooksDoNotHoldUpStop(t *testing.T) {
	dir := t.TempDir()
	log, hook := filepath.Join(dir, "log"), filepath.Join(dir, "hook")
	script := "#!/bin/sh\nsleep 1000 &\necho \"$ACTION $!\" >> " + log + "\n[ \"$ACTION\" = online ] && sleep 1000\nexit 0\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := New(Options{RunDir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, Kernel{})
	d.cfg = &config.Config{Globals: config.Globals{Hook: hook}}
	var pids []string
	t.Cleanup(func() {
		for _, pid := range pids {
			if p, err := os.FindProcess(atoi(pid)); err == nil {
				p.Kill()
			}
		}
	})
	for _, action := range []string{"offline", "online"} {
		d.runHook(action, "wan1", "eth1", "ipv4")
		end := time.Now().Add(5 * time.Second)
		for {
			b, _ := os.ReadFile(log)
			if strings.Contains(string(b), action+" ") {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("hook %s did not run", action)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	b, _ := os.ReadFile(log)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		pids = append(pids, strings.Fields(line)[1])
	}

	start := time.Now()
	done := make(chan struct{})
	go func() { d.waitHooks(); close(done) }()
	select {
	case <-done:
	case <-time.After(HookWaitDelay + 5*time.Second):
		t.Fatalf("waitHooks still waiting after %s", time.Since(start))
	}
	t.Logf("hooks ended %s after the stop began", time.Since(start).Round(time.Millisecond))
	// The online hook was still running: its background sleep went with it.
	if running(pids[1]) {
		t.Errorf("the running hook's child %s survived the stop", pids[1])
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// running reports whether pid runs; a zombie does not.
func running(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}
