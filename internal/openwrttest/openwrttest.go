// Package openwrttest runs OpenWrt's own userland (fw4, ubusd, rpcd, uci,
// opkg, apk) and pfSense's dpinger in tests, so that behaviour which depends
// on OpenWrt is checked against the real parts rather than stand-ins.
//
// The tools are built from source by the openwrt-tools kit that sits beside
// the repository in the project's workspace (../shared/openwrt-tools, built
// into /opt/openwrt-tools by `make deps`). Where the kit is missing the tests
// that need it skip with the reason; in CI (CI=true) they fail instead.
//
// This package is imported by tests only.
package openwrttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// Prefix is where the kit installs the tools; OWT_PREFIX overrides it.
func Prefix() string {
	if p := os.Getenv("OWT_PREFIX"); p != "" {
		return p
	}
	return "/opt/openwrt-tools"
}

// Tools runs the kit's shell helpers (lib.sh) for one test. Every call
// shares the test's session, so Cleanup stops exactly what the test started.
type Tools struct {
	lib   string
	sess  string
	state string // the kit's state directory (OW_STATE_BASE), one per Tools
}

var sessions atomic.Int64

// New finds the kit or skips (fails in CI) with the reason. It registers a
// cleanup that stops every process the test started through the kit.
func New(t testing.TB) *Tools {
	t.Helper()
	lib, err := LibPath()
	if err == nil {
		_, err = os.Stat(filepath.Join(Prefix(), "env.sh"))
	}
	if err != nil {
		Unavailable(t, fmt.Sprintf("openwrt-tools: %v (build them with ../shared/openwrt-tools/build, or `make deps`)", err))
	}
	if os.Geteuid() != 0 {
		Unavailable(t, "openwrt-tools need root (namespaces and mounts)")
	}
	n := sessions.Add(1)
	// Each Tools gets its own state directory: the kit's ow_down removes
	// the shared one's subdirectories when they look empty, which races
	// with another package's tests creating theirs (go test runs packages
	// in parallel). Short, because unix socket paths live below it.
	o := &Tools{lib: lib, sess: fmt.Sprintf("wanlb-%d-%d-%s", os.Getpid(), n, sanitize(t.Name())),
		state: filepath.Join(os.TempDir(), fmt.Sprintf("owt-%d-%d", os.Getpid(), n))}
	t.Cleanup(func() {
		_ = o.Cmd("ow_down").Run()
		os.RemoveAll(o.state)
	})
	return o
}

// Unavailable skips the test, or fails it in CI, where every test must run.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI must run this test: %s", reason)
	}
	t.Skipf("skipping: %s", reason)
}

// LibPath finds lib.sh of the kit: $OWT_LIB, or ../shared/openwrt-tools/lib.sh
// next to the repository root.
func LibPath() (string, error) {
	if p := os.Getenv("OWT_LIB"); p != "" {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	lib := filepath.Join(root, "..", "shared", "openwrt-tools", "lib.sh")
	if _, err := os.Stat(lib); err != nil {
		return "", err
	}
	return lib, nil
}

// repoRoot is the directory holding go.mod, found from the working
// directory (a package directory under `go test`).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

func sanitize(s string) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// Cmd returns bash running script after sourcing lib.sh; args are $1, $2...
// Pass values as arguments, never spliced into script.
func (o *Tools) Cmd(script string, args ...string) *exec.Cmd {
	c := exec.Command("bash", append([]string{"-c", `source "$0" && ` + script, o.lib}, args...)...)
	c.Env = append(os.Environ(), "OW_SESSION="+o.sess, "OW_STATE_BASE="+o.state)
	return c
}

// Run runs script and fails the test when it fails; it returns the
// combined output.
func (o *Tools) Run(t testing.TB, script string, args ...string) string {
	t.Helper()
	out, err := o.Cmd(script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openwrt-tools %s %q: %v\n%s", script, args, err, out)
	}
	return string(out)
}

// Bin is the path of one of the kit's tools (uci, ubus, apk, opkg, dpinger,
// rpcd ...).
func Bin(name string) string { return filepath.Join(Prefix(), "bin", name) }

// UCI runs the real uci CLI on confDir with a private save directory.
func (o *Tools) UCI(t testing.TB, confDir string, args ...string) string {
	t.Helper()
	return strings.TrimRight(o.Run(t, `d=$1; shift; ow_uci "$d" "$@"`, append([]string{confDir}, args...)...), "\n")
}
