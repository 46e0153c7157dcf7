// Package labtest holds what tests need around the namespace lab (package
// lab) that production code must not carry: the check that stops a test
// which cannot build a lab here. It is imported by tests only.
package labtest

import (
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/wanlb/wanlb/internal/openwrttest"
)

// tools are what a lab runs besides Go code.
var tools = []string{"ip", "iptables", "iptables-restore", "nft", "tc"}

// RequireRoot stops a test that needs a lab when the process cannot build
// one. Outside CI it skips, so `go test ./...` stays green for developers
// without root; in CI (CI=true) a missing privilege is a broken pipeline,
// not a reason to silently skip the integration tests, so it fails
// instead (openwrttest.Unavailable's rule).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		openwrttest.Unavailable(t, "lab test: not running as root (euid "+strconv.Itoa(os.Geteuid())+
			"); network namespaces, veths, nftables and iptables need root (run as root, e.g. sudo go test)")
		return
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			openwrttest.Unavailable(t, "lab test: required tool "+tool+" not found in PATH: "+err.Error())
			return
		}
	}
}
