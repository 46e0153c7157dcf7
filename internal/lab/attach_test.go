package lab

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPrefixAndAttach(t *testing.T) {
	requireRoot(t)
	for _, bad := range []string{"demo", "Demo-", "wlb1-", "wlb12x3-", "-", "a b-", "a/b-"} {
		if l, err := New(Options{ISPs: 1, Prefix: bad}); err == nil {
			l.Close()
			t.Errorf("New accepted Prefix %q", bad)
		}
		if _, err := Attach(bad, 1); err == nil {
			t.Errorf("Attach accepted prefix %q", bad)
		}
	}

	const prefix = "wlbtest-"
	// A leftover of a lab with this prefix that was never closed, with a
	// process still running inside.
	stale := prefix + "router"
	if out, err := exec.Command("ip", "netns", "add", stale).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", stale, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", stale).Run() })
	sleeper := exec.Command("ip", "netns", "exec", stale, "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { sleeper.Wait(); close(exited) }()
	t.Cleanup(func() { sleeper.Process.Kill() })
	// `ip netns exec` enters the namespace after it started; on a loaded
	// machine New could look before that and miss the process.
	pid := strconv.Itoa(sleeper.Process.Pid)
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		out, _ := exec.Command("ip", "netns", "pids", stale).Output()
		if slices.Contains(strings.Fields(string(out)), pid) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the sleeper (pid %s) is not in %s after 10s", pid, stale)
		}
	}

	l := newLab(t, Options{ISPs: 2, Prefix: prefix, ConnectTimeout: 2 * time.Second})
	if l.Prefix != prefix || l.Router != stale || l.ISPs[1].NS != prefix+"isp2" {
		t.Errorf("names: prefix %q router %q isp2 %q", l.Prefix, l.Router, l.ISPs[1].NS)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Error("the process in the leftover namespace survived New")
	}

	if _, err := Attach(prefix, 3); err == nil {
		t.Error("Attach with 3 ISPs to a 2-ISP lab succeeded")
	}
	a, err := Attach(prefix, 2)
	if err != nil {
		t.Fatal(err)
	}
	if a.Router != l.Router || a.ISPs[0].NS != l.ISPs[0].NS {
		t.Errorf("attached names %q %q, want %q %q", a.Router, a.ISPs[0].NS, l.Router, l.ISPs[0].NS)
	}
	// Without wanlb the router uses wan1 (lowest metric), so a blackhole
	// applied through the attached value cuts the client off.
	if err := a.Blackhole(1); err != nil {
		t.Fatal(err)
	}
	if k, err := l.Whoami(l.Client, WhoamiPort); err == nil {
		t.Errorf("whoami through blackholed ISP 1 answered via ISP %d", k)
	}
	if err := a.Heal(1); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if k, err := l.Whoami(l.Client, WhoamiPort); err != nil || k != 1 {
		t.Errorf("after heal and the attached Close: whoami = %d, %v", k, err)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, l)
	if _, err := Attach(prefix, 2); err == nil {
		t.Error("Attach succeeded after the lab was closed")
	}
}
