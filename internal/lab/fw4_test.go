package lab_test

// wanlb beside OpenWrt's real firewall4: the router of these labs is
// firewalled by fw4 (table inet fw4, lan/wan zones, masquerade on every
// WAN), loaded before the real wanlb daemon starts. Assertions that depend
// on the firewall backend the daemon reports are marked; the nftables
// backend keeps its state in its own table inet wanlb, the iptables backend
// in iptables-nft's table ip mangle.

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
)

// TestFW4BalancingAndFailover: weights, failover and port forwards work
// through a router firewalled by fw4.
func TestFW4BalancingAndFailover(t *testing.T) {
	l := newFW4Lab(t, lab.Options{ISPs: 2})
	if tables, err := l.XtablesTables(l.Router); err != nil || len(tables) > 0 {
		t.Fatalf("the lab made iptables tables in the fw4 router: %v %v", tables, err)
	}

	// fw4's redirects: through wan1 (the main table's default) a forward
	// works without wanlb, through wan2 the reply leaves by wan1 and fails.
	stop, err := l.ServeWhoami(l.Client, "198.18.1.2:9000")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, k := range []int{1, 2} {
		if err := l.PortForward(k, 9000); err != nil {
			t.Fatal(err)
		}
	}
	if tables, err := l.XtablesTables(l.Router); err != nil || len(tables) > 0 {
		t.Fatalf("PortForward made iptables tables in the fw4 router: %v %v", tables, err)
	}
	if out, _ := l.Exec(l.Router, "nft", "list", "chain", "inet", "fw4", "dstnat_wan"); !strings.Contains(out, "dnat ip to 198.18.1.2:9000") {
		t.Fatalf("fw4 has no redirect:\n%s", out)
	}
	via := func(k int) string { return l.ISPs[k-1].PublicAddr.String() + ":9000" }
	if _, err := l.WhoamiAt(l.Internet, via(1)); err != nil {
		t.Fatalf("fw4 redirect through wan1 without wanlb: %v", err)
	}
	if _, err := l.WhoamiAt(l.Internet, via(2)); err == nil {
		t.Fatal("a forward through wan2 worked without wanlb; the test proves nothing")
	}

	d := startFW4Daemon(t, l, fw4WANs(l, "", 3, 1))
	t.Logf("daemon backend: %s", d.backend())
	const n = 2000
	c := counts(t, l, n)
	share := float64(c[1]) / n
	t.Logf("%d new connections with weights 3:1: %v (wan1 %.3f)", n, c, share)
	// Binomial standard deviation for 2000 at 0.75 is 0.0097: 0.045 is 4.6
	// of them, so this fails for a real bias (2:1 passes once in 7,500),
	// not by chance (once in 300,000).
	if c[0] > 0 || share < 0.705 || share > 0.795 {
		t.Errorf("weights 3:1 over %d connections: %v, wan1 share %.3f, want 0.75 +- 0.045", n, c, share)
	}
	for i := 0; i < 10; i++ {
		if _, err := l.WhoamiAt(l.Internet, via(2)); err != nil {
			t.Fatalf("connection %d arriving on wan2 through fw4's redirect not answered through wan2: %v", i, err)
		}
	}

	// Failover: a silent ISP 1; new connections go to ISP 2.
	if err := l.Blackhole(1); err != nil {
		t.Fatal(err)
	}
	t.Logf("wan1 offline %s after the blackhole", d.waitState("wan1", "offline", 15*time.Second).Round(100*time.Millisecond))
	if c := counts(t, l, 40); c[2] != 40 {
		t.Errorf("with ISP 1 blackholed, 40 new connections went %v, want all through ISP 2", c)
	}
	if err := l.Heal(1); err != nil {
		t.Fatal(err)
	}
	d.waitState("wan1", "online", 15*time.Second)
	balanced(t, l, 5*time.Second, 1, 2)
}

// TestFW4CommandsRepair: after each fw4 command, and a user's `nft flush
// ruleset`, wanlb balances again. The time from the command to wanlb's
// state being back is logged.
func TestFW4CommandsRepair(t *testing.T) {
	l := newFW4Lab(t, lab.Options{ISPs: 2})
	// While wanlb's rules are missing, wan2's probe replies fail strict
	// rp_filter (nothing restores their mark), and a WAN that goes offline
	// makes the daemon apply everything again: with down '10' that cannot
	// happen within the deadline, so only the repair can pass this test.
	d := startFW4Daemon(t, l, fw4WANs(l, "\toption down '10'\n"))
	backend := d.backend()
	table := wanlbTable(backend)
	t.Logf("daemon backend %s, its rules in table %s", backend, table)
	balanced(t, l, 5*time.Second, 1, 2)

	for _, step := range fw4Steps(l) {
		r := runFW4Step(t, l, d, backend, step, 8*time.Second)
		t.Logf("%-30s command %4.2f s; wanlb's rules present %4.2f s, new connections balanced %4.2f s after it began; WAN changes: %v",
			step.name, r.cmd.Seconds(), r.rules.Seconds(), r.balanced.Seconds(), r.changes)
	}
}

// fw4Step is something an OpenWrt user or script does to the firewall.
type fw4Step struct {
	name string
	run  func() error
	// keepsOthers: the step replaces only table inet fw4.
	keepsOthers bool
}

// fw4Steps are the firewall commands wanlb has to live through: reload and
// restart replace table inet fw4; `fw4 flush` (what `/etc/init.d/firewall
// stop` runs) and `nft flush ruleset` delete every table.
func fw4Steps(l *lab.Lab) []fw4Step {
	fw4 := func(args ...string) func() error {
		return func() error { _, err := l.FW4(args...); return err }
	}
	return []fw4Step{
		{"fw4 reload", fw4("reload"), true},
		{"fw4 restart", fw4("restart"), true},
		{"fw4 flush; fw4 start", func() error {
			if err := fw4("flush")(); err != nil {
				return err
			}
			return fw4("start")()
		}, false},
		{"nft flush ruleset; fw4 start", func() error {
			if _, err := l.Exec(l.Router, "nft", "flush", "ruleset"); err != nil {
				return err
			}
			// fw4's state file still says "loaded"; FW4Up sees the table is
			// gone and starts it, as a reboot of the firewall would.
			return l.FW4Up()
		}, false},
	}
}

// TestFW4StopLeavesFW4Alone: SIGTERM of the daemon, and `wanlb flush` after
// a crash, leave the router's nftables ruleset as fw4 alone had it, and its
// ip rules and routes as before wanlb.
func TestFW4StopLeavesFW4Alone(t *testing.T) {
	l := newFW4Lab(t, lab.Options{ISPs: 2})
	rsBefore, rtBefore := ruleset(t, l), routing(t, l)
	if tables := nftTables(rsBefore); len(tables) != 1 || tables["inet fw4"] == "" {
		t.Fatalf("fw4 alone: want only table inet fw4, have\n%s", rsBefore)
	}

	d := startFW4Daemon(t, l, fw4WANs(l, ""))
	backend := d.backend()
	balanced(t, l, 5*time.Second, 1, 2)

	// check compares the router with fw4 alone after how wanlb went away.
	check := func(how string) {
		t.Helper()
		if rt := routing(t, l); rt != rtBefore {
			t.Errorf("after %s, ip rules or routes differ:\n--- after\n%s--- fw4 alone\n%s", how, rt, rtBefore)
		}
		rs := ruleset(t, l)
		if rs == rsBefore {
			return
		}
		added, removed, changed := diffTables(rsBefore, rs)
		if backend == backendNFT {
			// nftables backend: nothing of wanlb may remain.
			t.Errorf("after %s the ruleset differs from fw4's alone (added %v, removed %v, changed %v):\n%s",
				how, added, removed, changed, rs)
			return
		}
		// iptables backend: iptables-nft leaves the tables it created, with
		// their base chains, when wanlb deletes its chains and jumps. They
		// must hold no rule; fw4's table must be as before.
		if len(removed) > 0 || len(changed) > 0 {
			t.Errorf("after %s: tables removed %v, changed %v\n%s", how, removed, changed, rs)
		}
		after, empty := nftTables(rs), true
		for _, tb := range added {
			if rules := ruleLines(after[tb]); len(rules) > 0 {
				t.Errorf("after %s, table %s holds rules: %q", how, tb, rules)
				empty = false
			}
		}
		if empty {
			t.Logf("after %s (iptables backend): empty iptables-nft tables left: %v", how, added)
		}
	}

	if rs := ruleset(t, l); rs == rsBefore {
		t.Fatal("the running daemon changed nothing in the ruleset; the comparisons below would prove nothing")
	}
	d.stop()
	check("SIGTERM")

	// A crash leaves the state behind; `wanlb flush` removes it.
	d.start()
	d.waitAllOnline(20 * time.Second)
	balanced(t, l, 5*time.Second, 1, 2)
	if err := d.proc.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.proc.Wait()
	d.stopped = true
	if routing(t, l) == rtBefore {
		t.Fatal("kill -9 left no state behind; the flush below would prove nothing")
	}
	if out, err := d.cli("flush"); err != nil {
		t.Fatalf("wanlb flush: %v\n%s", err, out)
	}
	check("kill -9 and wanlb flush")
}

// TestFW4NoXtablesTables: with the nftables backend, no iptables-nft table
// (ip/ip6 filter, mangle, nat, raw ...) ever appears in the router while
// wanlb starts, balances, reloads, lives through fw4 commands and stops.
// With the iptables backend the same watch must see table ip mangle, which
// shows the watch works.
func TestFW4NoXtablesTables(t *testing.T) {
	l := newFW4Lab(t, lab.Options{ISPs: 2})
	w := watchXtables(t, l)
	d := startFW4Daemon(t, l, fw4WANs(l, ""))
	backend := d.backend()
	balanced(t, l, 5*time.Second, 1, 2)
	d.reload(fw4WANs(l, "", 3, 1))
	deadline := time.Now().Add(5 * time.Second)
	for d.wan("wan1").Share != 0.75 {
		if time.Now().After(deadline) {
			t.Fatalf("reload to 3:1 not applied: %+v", d.wan("wan1"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, step := range fw4Steps(l) {
		start := time.Now()
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		waitRestored(t, l, backend, start, 15*time.Second)
	}
	d.stop()
	seen := w.Stop()
	t.Logf("backend %s; iptables-nft tables seen in the router: %v", backend, seen)
	if backend == backendNFT {
		if len(seen) > 0 {
			t.Errorf("with the nftables backend, iptables-nft tables appeared: %v", seen)
		}
		return
	}
	if !strings.Contains(strings.Join(seen, ","), "ip mangle") {
		t.Errorf("iptables backend: the watch never saw table ip mangle (saw %v); it cannot detect xtables tables", seen)
	}
}
