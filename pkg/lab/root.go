package lab

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// RequireRoot stops a test that needs a lab when the process cannot build
// one. Outside CI it skips, so `go test ./...` stays green for developers
// without root; in CI (CI=true) a missing privilege is a broken pipeline, not
// a reason to silently skip the integration tests, so it fails instead.
func RequireRoot(t testing.TB) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "not running as root (euid " + strconv.Itoa(os.Geteuid()) + "); network namespaces, veths, nftables and iptables need root"
	} else {
		for _, tool := range []string{"ip", "iptables", "iptables-restore", "nft", "tc"} {
			if _, err := exec.LookPath(tool); err != nil {
				reason = "required tool " + tool + " not found in PATH: " + err.Error()
				break
			}
		}
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("lab tests must run as root in CI: %s", reason)
	}
	t.Skipf("skipping lab test: %s (run as root, e.g. sudo go test, to enable)", reason)
}
