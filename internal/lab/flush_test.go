package lab_test

// wanlb flush, in a new process, leaves the router as it was, with either
// firewall backend.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/lab"
)

var (
	countersRe    = regexp.MustCompile(`\[\d+:\d+\]`)
	nftCountersRe = regexp.MustCompile(`packets \d+ bytes \d+`)
)

// snapshot is the router's kernel state wanlb may touch, as text: the
// iptables view, every nftables table's name and the inet tables in full
// (iptables-nft's ip tables are left to iptables-save: it adds empty base
// chains on demand, which stay), ip rules and routes.
func snapshot(t *testing.T, l *lab.Lab) string {
	var b strings.Builder
	for _, cmd := range [][]string{{"iptables-save"}, {"nft", "list", "tables"}, {"nft", "list", "ruleset", "inet"}, {"ip", "rule"}, {"ip", "route", "show", "table", "all"}} {
		out, err := l.Exec(l.Router, cmd[0], cmd[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "#") {
				continue // iptables-save's timestamps
			}
			line = nftCountersRe.ReplaceAllString(countersRe.ReplaceAllString(line, ""), "")
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestFlushRestoresKernelState(t *testing.T) { eachBackend(t, testFlushRestoresKernelState) }

func testFlushRestoresKernelState(t *testing.T, backend string) {
	e := newEngineWith(t, lab.Options{ISPs: 3}, backend)
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	// A neighbour's mangle rule (pbr-style mark) that must survive apply
	// and flush. It also means the mangle table existed before wanlb: with
	// iptables-nft a table wanlb creates stays behind empty after a flush.
	if _, err := e.l.Exec(e.l.Router, "iptables", "-w", "-t", "mangle", "-A", "PREROUTING", "-p", "udp", "--dport", "5353",
		"-j", "MARK", "--set-xmark", "0x10000/0xff0000"); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, e.l)
	e.configure("config globals 'globals'\n\toption app_optimized '1'\n\n" + wanConfig(e.l, 1, 2, 3) +
		"config rule\n\toption proto 'tcp'\n\toption dest_port '443'\n\tlist wan 'wan2'\n\toption fallback '0'\n")
	e.apply()
	e.apply(1, 3)
	applied := snapshot(t, e.l)
	if applied == before {
		t.Fatal("apply changed nothing")
	}
	owned := map[string]string{dataplane.BackendNFTables: "table inet wanlb {", dataplane.BackendIPTables: "wanlb_pre"}
	for _, want := range []string{owned[backend], "lookup 3001", "suppress_prefixlength 0", "table 3002"} {
		if !strings.Contains(applied, want) {
			t.Errorf("applied state lacks %q", want)
		}
	}
	for b, other := range owned {
		if b != backend && strings.Contains(applied, other) {
			t.Errorf("backend %s left %q", backend, other)
		}
	}
	// The CLI, in a new process, finds everything by itself, with the
	// backend the config names.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wanlb"), []byte("config globals 'globals'\n\toption backend '"+backend+"'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := e.l.Exec(e.l.Router, bin, "--config-dir", dir, "flush"); err != nil {
		t.Fatalf("wanlb flush: %v\n%s", err, out)
	}
	if after := snapshot(t, e.l); after != before {
		t.Errorf("flush left the router different:\n--- after\n%s\n--- before\n%s", after, before)
	}
	// And a second flush has nothing to do and does not fail.
	if out, err := e.l.Exec(e.l.Router, bin, "--config-dir", dir, "flush"); err != nil {
		t.Fatalf("second flush: %v\n%s", err, out)
	}
}
