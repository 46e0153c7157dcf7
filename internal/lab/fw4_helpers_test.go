package lab_test

// Helpers of the fw4 tests: the kit's fw4 behind lab.FW4Runner, the real
// daemon on a router that runs fw4, and views of the router's nftables
// state that tell wanlb's part from fw4's.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
	"github.com/wanlb/wanlb/internal/openwrttest"
)

// owFW4 runs fw4 for the lab through the openwrt-tools kit.
type owFW4 struct{ ow *openwrttest.Tools }

func (o owFW4) Up(ns, confDir string) error {
	if out, err := o.ow.Cmd(`ow_fw4_up "$1" "$2"`, ns, confDir).CombinedOutput(); err != nil {
		return fmt.Errorf("ow_fw4_up: %w\n%s", err, out)
	}
	return nil
}

func (o owFW4) Run(ns, confDir string, args ...string) (string, error) {
	out, err := o.ow.Cmd(`ns=$1 d=$2; shift 2; ow_fw4 "$ns" "$d" "$@"`, append([]string{ns, confDir}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ow_fw4: %w\n%s", err, out)
	}
	return string(out), nil
}

// newFW4Lab builds a lab whose router runs OpenWrt's real fw4. Without
// root or the openwrt-tools kit it skips (fails in CI).
func newFW4Lab(t testing.TB, opts lab.Options) *lab.Lab {
	t.Helper()
	labtest.RequireRoot(t)
	opts.FW4 = owFW4{openwrttest.New(t)}
	if opts.ConnectTimeout == 0 {
		// Lab RTTs are microseconds; a dropped SYN costs a poll this much.
		opts.ConnectTimeout = time.Second
	}
	return newLab(t, opts)
}

// startFW4Daemon runs the real daemon in the router of a fw4 lab as on a
// router: WANs named like their netifd interfaces (wan1, wan2, ...), device
// and gateway from netifd (the kit's stand-in, on the ubusd fw4 uses,
// answering from the router's network config), probes to the lab's
// internet. It returns once every WAN is online.
func startFW4Daemon(t testing.TB, l *lab.Lab, config string) *daemonRun {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	failoverDNS(t, l)
	// The kit keeps one ubusd per namespace and state directory: the one
	// fw4 in the router uses, so the daemon must ask the lab's own kit.
	run := l.FW4Runner().(owFW4).ow.RunDir(t, l.Router)
	d := &daemonRun{t: t, l: l, bin: bin, configDir: t.TempDir(), runDir: t.TempDir(), ubusRun: run}
	d.writeConfig(config)
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.proc.Output())
		}
	})
	d.waitAllOnline(20 * time.Second)
	return d
}

// fw4WANs is the config of WANs wan1..wanN as on a router (device and
// gateway from netifd) with the given weights and extra options each.
func fw4WANs(l *lab.Lab, extra string, weights ...int) string {
	var b strings.Builder
	for i, isp := range l.ISPs {
		w := 1
		if i < len(weights) {
			w = weights[i]
		}
		fmt.Fprintf(&b, "config wan 'wan%d'\n\toption weight '%d'\n%s%s\n", isp.Index, w, targets, extra)
	}
	return b.String()
}

// Firewall backends as `wanlb status --json` names them.
const (
	backendNFT = "nftables"
	backendIPT = "iptables"
)

// backend is the firewall backend the daemon reports: the top-level
// "backend" of `wanlb status --json`. A daemon without that field only
// has the iptables backend.
func (d *daemonRun) backend() string {
	d.t.Helper()
	out, err := d.l.Exec(d.l.Router, d.bin, "--run-dir", d.runDir, "status", "--json")
	if err != nil {
		d.t.Fatalf("status: %v", err)
	}
	var s struct {
		Backend string `json:"backend"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		d.t.Fatalf("status --json: %v\n%s", err, out)
	}
	switch s.Backend {
	case "":
		return backendIPT
	case backendNFT, backendIPT:
		return s.Backend
	}
	d.t.Fatalf("status --json: unknown backend %q", s.Backend)
	return ""
}

// wanlbTable is the nftables table that holds wanlb's firewall state with
// backend: its own table, or iptables-nft's mangle table.
func wanlbTable(backend string) string {
	if backend == backendNFT {
		return "inet wanlb"
	}
	return "ip mangle"
}

// rulesPresent reports whether wanlb's firewall rules (the hooks into the
// packet path) and its fwmark ip rules for wan1 and wan2 are in the router.
func rulesPresent(l *lab.Lab, backend string) bool {
	if backend == backendNFT {
		if _, err := l.Exec(l.Router, "nft", "list", "table", "inet", "wanlb"); err != nil {
			return false
		}
	} else {
		out, err := l.Exec(l.Router, "iptables", "-w", "-t", "mangle", "-S", "PREROUTING")
		if err != nil || !strings.Contains(out, "wanlb") {
			return false
		}
	}
	out, err := l.Exec(l.Router, "ip", "rule")
	return err == nil && strings.Contains(out, "lookup 3001") && strings.Contains(out, "lookup 3002")
}

// balancedNow opens n connections from the client and reports whether all
// succeeded and every ISP in want carried at least one.
func balancedNow(t testing.TB, l *lab.Lab, n int, want ...int) (bool, map[int]int) {
	t.Helper()
	c, err := l.CountISPs(l.Client, n, lab.WhoamiPort)
	if err != nil {
		t.Fatal(err)
	}
	ok := c[0] == 0
	for _, k := range want {
		ok = ok && c[k] > 0
	}
	return ok, c
}

// restoreTimes are how long after `from` wanlb's rules were first seen
// present and new connections first seen balanced over wan1 and wan2.
type restoreTimes struct{ rules, balanced time.Duration }

// waitRestored polls until wanlb's rules are present and 30 new
// connections are balanced over wan1 and wan2, within a deadline.
func waitRestored(t testing.TB, l *lab.Lab, backend string, from time.Time, within time.Duration) restoreTimes {
	t.Helper()
	var r restoreTimes
	var last map[int]int
	for time.Since(from) < within {
		if r.rules == 0 {
			if !rulesPresent(l, backend) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			r.rules = time.Since(from)
		}
		var ok bool
		if ok, last = balancedNow(t, l, 30, 1, 2); ok {
			r.balanced = time.Since(from)
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("wanlb not restored within %s: rules present after %s, last connections %v", within, r.rules, last)
	return r
}

// fw4Result is what one firewall step did to wanlb.
type fw4Result struct {
	// cmd is how long the step's commands took.
	cmd time.Duration
	restoreTimes
	// changes are the WAN state changes from the step's start until every
	// WAN was online again; offline is set when one of them went offline.
	changes []string
	offline bool
}

// runFW4Step runs step on the router of a lab whose daemon balances over
// wan1 and wan2 and measures how long wanlb takes to be back, failing the
// test unless it is back within that long from the step's start. It fails
// the test when fw4's table is missing afterwards or when a step that must
// leave other tables alone replaced wanlb's.
func runFW4Step(t testing.TB, l *lab.Lab, d *daemonRun, backend string, step fw4Step, within time.Duration) fw4Result {
	t.Helper()
	table := wanlbTable(backend)
	handle := tableHandle(l, table)
	if handle == "" {
		t.Fatalf("before %s: no table %s", step.name, table)
	}
	start := time.Now()
	if err := step.run(); err != nil {
		t.Fatalf("%s: %v", step.name, err)
	}
	r := fw4Result{cmd: time.Since(start)}
	if _, err := l.Exec(l.Router, "nft", "list", "table", "inet", "fw4"); err != nil {
		t.Fatalf("after %s fw4's table is missing: %v", step.name, err)
	}
	if step.keepsOthers {
		// fw4 replaced only its own table: wanlb's was never touched.
		if h := tableHandle(l, table); h != handle {
			t.Errorf("%s replaced table %s (handle %s, was %s): it must only touch fw4's table", step.name, table, h, handle)
		}
	}
	r.restoreTimes = waitRestored(t, l, backend, start, within)
	// A WAN whose probes failed while the rules were missing may still be
	// on its way down or up: wait until it settled.
	d.waitAllOnline(20 * time.Second)
	s, err := d.status()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range s.WANs {
		for _, c := range w.Changes {
			if c.At.Before(start) {
				continue
			}
			r.changes = append(r.changes, fmt.Sprintf("%s %s->%s at +%.1fs (%s)", w.Name, c.From, c.To, c.At.Sub(start).Seconds(), c.Reason))
			r.offline = r.offline || c.To == "offline"
		}
	}
	return r
}

// ruleset is the router's `nft -s list ruleset`: stateless, so counters
// that traffic moves do not count as differences.
func ruleset(t testing.TB, l *lab.Lab) string {
	t.Helper()
	out, err := l.Exec(l.Router, "nft", "-s", "list", "ruleset")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// routing is the router's ip rules and routes of every table.
func routing(t testing.TB, l *lab.Lab) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"rule"}, {"route", "show", "table", "all"}} {
		out, err := l.Exec(l.Router, "ip", args...)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(out)
	}
	return b.String()
}

// nftTables splits `nft list ruleset` output into its top-level table
// blocks, keyed "family name".
func nftTables(rs string) map[string]string {
	tables := map[string]string{}
	var key string
	var block strings.Builder
	for _, line := range strings.SplitAfter(rs, "\n") {
		if f := strings.Fields(line); key == "" && len(f) >= 3 && f[0] == "table" {
			key = f[1] + " " + f[2]
		}
		if key == "" {
			continue
		}
		block.WriteString(line)
		if strings.TrimRight(line, "\n") == "}" {
			tables[key] = block.String()
			key = ""
			block.Reset()
		}
	}
	return tables
}

// ruleLines are the lines of a table block that are rules: neither the
// table and chain brackets nor a base chain's type line.
func ruleLines(block string) []string {
	var rules []string
	for _, line := range strings.Split(block, "\n") {
		s := strings.TrimSpace(line)
		switch {
		case s == "", s == "}", strings.HasPrefix(s, "table "), strings.HasPrefix(s, "chain "),
			strings.HasPrefix(s, "type ") && strings.Contains(s, " hook "):
			continue
		}
		rules = append(rules, s)
	}
	return rules
}

// diffTables describes how ruleset after differs from before, table by
// table: tables added, removed or changed.
func diffTables(before, after string) (added, removed, changed []string) {
	b, a := nftTables(before), nftTables(after)
	for k, v := range a {
		switch w, ok := b[k]; {
		case !ok:
			added = append(added, k)
		case w != v:
			changed = append(changed, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			removed = append(removed, k)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	sort.Strings(changed)
	return added, removed, changed
}

var handleRe = regexp.MustCompile(`(?m)^table \S+ \S+ \{ # handle (\d+)`)

// tableHandle is the kernel's handle of table ("family name") in the
// router, or "" when it does not exist. A table deleted and created again
// gets a new handle.
func tableHandle(l *lab.Lab, table string) string {
	out, err := l.Exec(l.Router, "nft", append([]string{"-a", "list", "table"}, strings.Fields(table)...)...)
	if err != nil {
		return ""
	}
	if m := handleRe.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

// xtablesWatch records every iptables-nft table created in the router
// while it runs, from `nft monitor tables`, so even a table that exists
// for a moment is seen.
type xtablesWatch struct {
	l    *lab.Lab
	proc *lab.Process
}

func watchXtables(t testing.TB, l *lab.Lab) *xtablesWatch {
	t.Helper()
	p, err := l.Start(l.Router, "nft", "monitor", "tables")
	if err != nil {
		t.Fatal(err)
	}
	w := &xtablesWatch{l: l, proc: p}
	t.Cleanup(func() { p.Kill() })
	// The monitor listens once it reports a marker table coming and going.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Output(), "add table inet labwatch") {
		if time.Now().After(deadline) {
			t.Fatalf("nft monitor reports nothing:\n%s", p.Output())
		}
		for _, verb := range []string{"add", "delete"} {
			if _, err := l.Exec(l.Router, "nft", verb, "table", "inet", "labwatch"); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return w
}

// Stop ends the watch and returns the iptables-nft tables created while
// it ran, sorted.
func (w *xtablesWatch) Stop() []string {
	// A last marker: once it is reported, every earlier event is too.
	for _, verb := range []string{"add", "delete"} {
		w.l.Exec(w.l.Router, "nft", verb, "table", "inet", "labwatchend")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(w.proc.Output(), "delete table inet labwatchend") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	w.proc.Kill()
	seen := map[string]bool{}
	for _, line := range strings.Split(w.proc.Output(), "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[0] == "add" && f[1] == "table" && lab.IsXtablesTable(f[2], f[3]) {
			seen[f[2]+" "+f[3]] = true
		}
	}
	var names []string
	for k := range seen {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
