package lab

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/<name>.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// TestFW4Config: the router's fw4 config files for a 3-ISP lab with one
// port forward, as OpenWrt's own files would read.
func TestFW4Config(t *testing.T) {
	l := layout("wlbtest-", Options{ISPs: 3})
	golden(t, "fw4-network", fw4Network(l.ISPs))
	fw := fw4Firewall(l.ISPs, []fw4PortForward{{isp: l.ISPs[1], port: 9000}}, false)
	golden(t, "fw4-firewall", fw)
	// What the lab promises, independent of the golden file.
	for _, want := range []string{"list network 'wan1'", "list network 'wan3'", "option masq '1'", "option mtu_fix '1'",
		"option flow_offloading '0'", "option src_dip '198.18.12.2'", "option dest_ip '198.18.1.2'"} {
		if !strings.Contains(fw, want) {
			t.Errorf("firewall config lacks %q", want)
		}
	}
}

func TestIsXtablesTable(t *testing.T) {
	for _, tc := range []struct {
		family, name string
		want         bool
	}{
		{"ip", "mangle", true},
		{"ip6", "filter", true},
		{"ip", "nat", true},
		{"ip6", "raw", true},
		{"inet", "fw4", false},
		{"inet", "wanlb", false},
		{"inet", "mangle", false}, // iptables-nft never makes inet tables
		{"ip", "wanlb", false},
	} {
		if got := IsXtablesTable(tc.family, tc.name); got != tc.want {
			t.Errorf("IsXtablesTable(%q, %q) = %v, want %v", tc.family, tc.name, got, tc.want)
		}
	}
}
