package lab_test

// A router without iptables (OpenWrt 22.03 and later ship fw4 and
// nftables only): the real daemon balances, fails over and repairs its
// table with the nftables backend, and never runs an iptables, ip6tables
// or xtables binary, its backend detection included.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
)

// noIPTables writes a wrapper that runs a command in a private mount
// namespace where every iptables*, ip6tables*, xtables*, arptables* and
// ebtables* binary is bind-mounted over by a stub that records its
// execution in the returned file and exits 1.
func noIPTables(t *testing.T) (wrap []string, record string) {
	dir := t.TempDir()
	record = filepath.Join(dir, "executed")
	stub := filepath.Join(dir, "stub")
	script := filepath.Join(dir, "noiptables")
	files := map[string]string{
		stub: fmt.Sprintf("#!/bin/sh\necho \"$0 $*\" >> %s\nexit 1\n", record),
		script: `#!/bin/sh
set -e
for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
	for f in "$d"/iptables* "$d"/ip6tables* "$d"/xtables* "$d"/arptables* "$d"/ebtables*; do
		if [ -e "$f" ]; then mount --bind "` + stub + `" "$f"; fi
	done
done
exec "$@"
`,
	}
	for path, text := range files {
		if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"unshare", "--mount", "--propagation", "private", script}, record
}

func recorded(t *testing.T, record string) string {
	b, err := os.ReadFile(record)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func TestDaemonWithoutIPTables(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2})
	wrap, record := noIPTables(t)
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	inWrap := func(args ...string) (string, error) {
		return l.Exec(l.Router, wrap[0], append(wrap[1:], args...)...)
	}
	// The harness works: iptables there is the stub.
	if out, err := inWrap("iptables", "-V"); err == nil {
		t.Fatalf("iptables still runs in the wrapper: %s", out)
	}
	if got := recorded(t, record); !strings.Contains(got, "iptables -V") {
		t.Fatalf("the stub did not record iptables -V: %q", got)
	}
	os.Remove(record)

	failoverDNS(t, l)
	d := &daemonRun{t: t, l: l, bin: bin, configDir: t.TempDir(), runDir: t.TempDir()}
	d.writeConfig(labWANs(l, nil))
	d.proc, err = l.Start(l.Router, wrap[0], append(wrap[1:], bin, "--config-dir", d.configDir, "--run-dir", d.runDir, "daemon")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.proc.Output())
		}
	})

	d.waitAllOnline(15 * time.Second)
	if s, err := d.status(); err != nil || s.Backend != "nftables" {
		t.Fatalf("status backend %q (%v), want nftables", s.Backend, err)
	}
	if out, err := inWrap(bin, "--run-dir", d.runDir, "status"); err != nil || !strings.Contains(out, "firewall backend: nftables") {
		t.Errorf("status table: %v\n%s", err, out)
	}
	balanced(t, l, 5*time.Second, 1, 2)

	// Failover and back.
	if err := l.Blackhole(1); err != nil {
		t.Fatal(err)
	}
	d.waitState("wan1", "offline", 10*time.Second)
	if c := counts(t, l, 40); c[2] != 40 {
		t.Errorf("with wan1 offline, connections went %v", c)
	}
	if err := l.Heal(1); err != nil {
		t.Fatal(err)
	}
	d.waitState("wan1", "online", 15*time.Second)
	balanced(t, l, 5*time.Second, 1, 2)

	// Repair: what others may do to wanlb's table. The daemon hears of
	// each commit over netlink and restores the table as it was, well
	// before its 3 s safety-net poll would.
	want, err := l.Exec(l.Router, "nft", "list", "table", "inet", "wanlb")
	if err != nil {
		t.Fatal(err)
	}
	for _, breakIt := range [][]string{
		{"delete", "table", "inet", "wanlb"},
		{"flush", "chain", "inet", "wanlb", "decide"},
		{"insert", "rule", "inet", "wanlb", "pre", "meta", "mark", "set", "0x1"},
	} {
		if _, err := l.Exec(l.Router, "nft", breakIt...); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			if got, _ := l.Exec(l.Router, "nft", "list", "table", "inet", "wanlb"); got == want {
				t.Logf("nft %s: table restored after %s", strings.Join(breakIt, " "), time.Since(start).Round(time.Millisecond))
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("nft %s: table not restored within 1s", strings.Join(breakIt, " "))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	balanced(t, l, 5*time.Second, 1, 2)

	// The CLI's commands on the same router.
	for _, args := range [][]string{{"check"}, {"rules"}} {
		if out, err := inWrap(append([]string{bin, "--config-dir", d.configDir}, args...)...); err != nil {
			t.Errorf("wanlb %s: %v\n%s", args[0], err, out)
		}
	}
	d.stop()
	if out, _ := l.Exec(l.Router, "nft", "list", "tables"); strings.Contains(out, "wanlb") {
		t.Errorf("table left after SIGTERM:\n%s", out)
	}
	if out, err := inWrap(bin, "--config-dir", d.configDir, "flush"); err != nil {
		t.Errorf("wanlb flush: %v\n%s", err, out)
	}
	if !strings.Contains(d.proc.Output(), "firewall backend: nftables") {
		t.Errorf("the daemon did not log its backend:\n%s", d.proc.Output())
	}
	if got := recorded(t, record); got != "" {
		t.Errorf("wanlb ran iptables-family binaries:\n%s", got)
	}
}
