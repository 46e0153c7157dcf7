package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/netifd"
	"github.com/wanlb/wanlb/internal/uciconf"
)

// stdinText is what the next run reads from stdin.
var stdinText string

func run(t *testing.T, configText string, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	lastDir = dir
	if configText != "" {
		if err := os.WriteFile(filepath.Join(dir, "wanlb"), []byte(configText), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	env := Env{
		Stdin:  strings.NewReader(stdinText),
		Stdout: &out, Stderr: &errOut,
		Kernel: func(string) (*dataplane.DataPlane, func(), error) {
			return nil, nil, errors.New("no kernel in unit tests")
		},
		// auto is nftables here, as on every current OpenWrt.
		Backend: func(s string) (string, error) {
			if s == "auto" {
				return dataplane.BackendNFTables, nil
			}
			return dataplane.ChooseBackend(s)
		},
		// Only nftables is installed here.
		BackendUsable: func(b string) error {
			if b != dataplane.BackendNFTables {
				return errors.New("iptables-restore: not found")
			}
			return nil
		},
		Carrier: func(dev string) bool { return dev != "wan3" },
		Now:     func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
		Netifd: func(_ context.Context, name string) (netifd.Interface, error) {
			if ifc, ok := netifdIfaces[name]; ok {
				return ifc, nil
			}
			return netifd.Interface{}, errors.New("no such interface")
		},
	}
	code := Run(append([]string{"--config-dir", dir}, args...), env)
	return code, out.String(), errOut.String()
}

// netifdIfaces is what netifd says about interfaces in the next run.
var netifdIfaces map[string]netifd.Interface

// lastDir is the config directory of the last run.
var lastDir string

const good = `
config wan 'wan1'
	option device 'wan1'
	option gateway '198.18.11.1'
	option weight '3'

config wan 'wan2'
	option device 'wan2'
	option gateway '198.18.12.1'

config wan 'wan3'
	option device 'wan3'
	option gateway '198.18.13.1'

config wan 'wan4'
	option label 'Bob'\''s line'

config rule
	option proto 'udp'
	option dest_port '5060'
	list wan 'wan2'
`

func TestCheck(t *testing.T) {
	code, out, errOut := run(t, good, "check")
	if code != ExitOK || !strings.Contains(out, "config ok: 4 WANs") || errOut != "" {
		t.Fatalf("check of a good config: %d %q %q", code, out, errOut)
	}
	code, _, errOut = run(t, good+"\nconfig wan 'wan5'\n\toption weight '0'\n\toption gateway 'x'\n", "check")
	want := "wanlb.wan5.weight: must be between 1 and 100 (got '0')\nwanlb.wan5.gateway: must be an IP address (got 'x')\n"
	if code != ExitProblem || errOut != want {
		t.Fatalf("check of a bad config: %d\n%s\nwant\n%s", code, errOut, want)
	}
	// A backend that cannot run is a warning naming the option.
	code, _, errOut = run(t, "config globals 'globals'\n\toption backend 'iptables'\n"+good, "check")
	want = "wanlb.globals.backend: warning: the iptables firewall backend cannot run here, the daemon would not start: iptables-restore: not found\n"
	if code != ExitOK || errOut != want {
		t.Fatalf("check with an unusable backend: %d %q, want %q", code, errOut, want)
	}
	if code, _, errOut := run(t, "", "check"); code != ExitProblem || !strings.Contains(errOut, "no config") {
		t.Fatalf("check without a config: %d %q", code, errOut)
	}
	if code, _, errOut := run(t, "config wan 'x\n", "check"); code != ExitProblem || !strings.Contains(errOut, "line 1") {
		t.Fatalf("check of a broken file: %d %q", code, errOut)
	}
}

func TestRules(t *testing.T) {
	common := []string{
		"# wan1       mark 1 dev wan1 usable true: active, share 0.75",
		"# wan3       mark 3 dev wan3 usable false: unused",
		"# wan4       left out: no device in the config",
		"6101: from all fwmark 0x1000000/0x3f000000 lookup 3001",
		"default via 198.18.12.1 dev wan2 table 3002",
	}
	for _, tc := range []struct {
		backend string
		want    []string
	}{
		{"auto", []string{
			"# firewall backend: nftables (globals.backend 'auto')",
			"# nft -f - (one transaction)",
			"delete table inet wanlb",
			`meta l4proto udp th dport 5060 meta nfproto vmap { ipv4 : goto group0, ipv6 : goto group1_6 } comment "rule @rule[0]"`,
			"\tchain group0 {\n\t\tgoto set_wan2\n\t}",
			"\tchain default {\n\t\tnumgen random mod 4 vmap { 0-2 : goto set_wan1, 3 : goto set_wan2 }\n\t}",
		}},
		{"iptables", []string{
			"# firewall backend: iptables (globals.backend 'iptables')",
			"-A wanlb_decide -p udp -m multiport --dports 5060 -m comment --comment \"rule @rule[0]\" -g wanlb_rule0",
			"COMMIT",
		}},
	} {
		code, out, errOut := run(t, "config globals 'globals'\n\toption backend '"+tc.backend+"'\n"+good, "rules")
		if code != ExitOK {
			t.Fatalf("rules: %d %s", code, errOut)
		}
		for _, want := range append(common, tc.want...) {
			if !strings.Contains(out, want) {
				t.Errorf("%s: rules output lacks %q:\n%s", tc.backend, want, out)
			}
		}
	}
	// IPv6: wan2's gateway6 gives it an IPv6 side, printed with its rules
	// and routes; all IPv6 goes there.
	dual := strings.Replace(good, "\toption gateway '198.18.12.1'\n", "\toption gateway '198.18.12.1'\n\toption gateway6 'fe80::1'\n", 1)
	code, out, errOut := run(t, dual, "rules")
	if code != ExitOK {
		t.Fatalf("rules: %d %s", code, errOut)
	}
	for _, want := range []string{
		"#            IPv6 dev wan2 via fe80::1",
		"-6 6000: from all lookup main suppress_prefixlength 0",
		"-6 6102: from all fwmark 0x2000000/0x3f000000 lookup 3002",
		"-6 default via fe80::1 dev wan2 table 3002",
		"\tchain default_6 {\n\t\tgoto set_wan2\n\t}",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dual stack: rules output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "-6 6101") {
		t.Errorf("wan1 has no IPv6 side but an IPv6 rule:\n%s", out)
	}
	if code, _, _ := run(t, "config wan 'w'\n\toption weight 'x'\n", "rules"); code != ExitProblem {
		t.Errorf("rules of a bad config exited %d", code)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, ExitUsage, "usage: wanlb"},
		{[]string{"frobnicate"}, ExitUsage, "unknown command 'frobnicate'"},
		{[]string{"check", "extra"}, ExitUsage, "unexpected argument 'extra'"},
		{[]string{"--bogus", "check"}, ExitUsage, "flag provided but not defined: -bogus"},
		{[]string{"flush"}, ExitProblem, "no kernel in unit tests"},
	}
	for _, tt := range tests {
		code, _, errOut := run(t, good, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
	code, out, _ := run(t, good, "version")
	if code != ExitOK || out != "wanlb dev\n" {
		t.Errorf("version: %d %q", code, out)
	}
	// Without a daemon, its commands say so and exit 1.
	for _, args := range [][]string{{"status"}, {"status", "--json"}, {"reload"}, {"hotplug", "ifup", "wan"}} {
		code, _, errOut := run(t, good, append([]string{"--run-dir", t.TempDir()}, args...)...)
		if code != ExitProblem || !strings.Contains(errOut, "wanlb daemon is not running") {
			t.Errorf("%v without a daemon: %d %q", args, code, errOut)
		}
	}
}

// The config the package installs must pass its own check.
func TestShippedConfigIsValid(t *testing.T) {
	b, err := os.ReadFile("../../files/etc/config/wanlb")
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, string(b), "check"); code != ExitOK || errOut != "" {
		t.Fatalf("shipped config: %d %s %s", code, out, errOut)
	}
}

func TestPasswd(t *testing.T) {
	defer func() { stdinText = "" }()
	stdinText = "correct horse\n"
	code, out, errOut := run(t, good, "--run-dir", t.TempDir(), "passwd")
	if code != ExitOK || !strings.Contains(out, "password set") {
		t.Fatalf("passwd: %d %s %s", code, out, errOut)
	}
	f, err := uciconf.ReadFile(filepath.Join(lastDir, "wanlb"))
	if err != nil {
		t.Fatal(err)
	}
	ui := f.Section("ui")
	hash, _ := ui.Get("password_hash")
	mode, _ := ui.Get("auth")
	if ok, err := auth.VerifyCrypt(hash.Values[0], "correct horse"); !ok || err != nil || mode.Values[0] != "password" {
		t.Fatalf("stored %v %v, verify %v %v", hash, mode, ok, err)
	}
	for _, tt := range []struct{ config, input, want string }{
		{good, "short\n", "at least 8 characters"},
		{good, "", "no password given"},
		{good + "\nconfig wan 'bad'\n\toption weight '0'\n", "long enough pw\n", "nothing was written"},
	} {
		stdinText = tt.input
		code, _, errOut := run(t, tt.config, "--run-dir", t.TempDir(), "passwd")
		b, _ := os.ReadFile(filepath.Join(lastDir, "wanlb"))
		if code != ExitProblem || !strings.Contains(errOut, tt.want) || strings.Contains(string(b), "password_hash") {
			t.Errorf("passwd with %q: %d %q", tt.input, code, errOut)
		}
	}
}
