package web

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/wanlb/wanlb/internal/config"
)

// The UI's validator (static/js/validate.js) accepts the track targets
// and policy addresses the server accepts, IPv6 ones included, and refuses
// the others: run under node, compared with config.ParseTarget and
// config.ParseAddrMatch.
func TestValidatorAgreesIPv6(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is missing")
		}
		t.Skip("node is missing")
	}
	targets := []string{
		"198.18.0.1", "2001:db8::1", "::1", "1:2:3:4:5:6:7:8", "2001:db8::1::2", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "2001:db8::g",
		"::ffff:198.18.0.1", "2001:db8::198.18.0.1",
		"dns://[2001:db8::53]/example.org", "dns://[2001:db8::53]:5353", "dns://2001:db8::53", "dns://[198.18.0.1]x",
		"tcp://[2001:db8::1]:80", "tcp://[2001:db8::1]:0", "tcp://2001:db8::1:80",
		"http://[2001:db8::1]:8080/", "https://[2001:db8::1]/x",
	}
	addrs := []string{
		"198.18.0.1", "198.18.0.0/15", "198.18.0.10-198.18.0.20", "198.18.0.20-198.18.0.10",
		"2001:db8::1", "2001:db8::/32", "2001:db8::/128", "2001:db8::/129", "2001:db8::/032", "fd00::/8",
		"2001:db8::10-2001:db8::20", "2001:db8::20-2001:db8::10", "2001:db8::1:0-2001:db8::ffff", "198.18.0.1-2001:db8::1",
		"::ffff:198.18.0.1", "fe80::1%eth0", "2001:db8:::1", "2001:db8::/x",
	}
	script := `const {V} = await import(process.argv[1]);
const [targets, addrs] = JSON.parse(process.argv[2]);
console.log(JSON.stringify([targets.map(s => V.target(s) === ''), addrs.map(s => V.addr(s) === '')]));`
	abs, err := filepath.Abs("static/js/validate.js")
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal([][]string{targets, addrs})
	out, err := exec.Command(node, "--input-type=module", "-e", script, abs, string(in)).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got [2][]bool
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node said %s: %v", out, err)
	}
	for i, s := range targets {
		_, err := config.ParseTarget(s)
		if got[0][i] != (err == nil) {
			t.Errorf("track %q: the UI accepts it %v, the server %v (%v)", s, got[0][i], err == nil, err)
		}
	}
	for i, s := range addrs {
		_, err := config.ParseAddrMatch(s)
		if got[1][i] != (err == nil) {
			t.Errorf("address %q: the UI accepts it %v, the server %v (%v)", s, got[1][i], err == nil, err)
		}
	}
}
