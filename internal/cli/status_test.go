package cli

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wanlb/wanlb/internal/daemon"
)

// statusRunDirEnv makes the test binary run `wanlb status` on that run
// directory instead of the tests: TestStatusAsOtherUser runs it so as an
// unprivileged user.
const statusRunDirEnv = "WANLB_TEST_STATUS_RUN_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(statusRunDirEnv); dir != "" {
		os.Exit(Run([]string{"--run-dir", dir, "status"}, Env{Stdout: os.Stdout, Stderr: os.Stderr}))
	}
	os.Exit(m.Run())
}

func TestStatusNotRunning(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := Run([]string{"--run-dir", dir, "status"}, Env{Stdout: &out, Stderr: &errOut})
	sock := filepath.Join(dir, daemon.SocketName)
	if code != ExitProblem || !strings.Contains(errOut.String(), "not running") || !strings.Contains(errOut.String(), sock) {
		t.Errorf("exit %d, stderr %q; want 1 and 'not running' naming %s", code, errOut.String(), sock)
	}
}

// TestStatusAsOtherUser: a user who may not open the root-only control
// socket of a running daemon is told so, not that the daemon is down.
func TestStatusAsOtherUser(t *testing.T) {
	// A run directory others may enter, as /var/run/wanlb is, holding a
	// socket that is root's alone, as the daemon makes it.
	dir, err := os.MkdirTemp("", "wanlb-status-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, daemon.SocketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Chmod(sock, 0o600); err != nil {
		t.Fatal(err)
	}

	var stderr string
	var code int
	if os.Geteuid() == 0 {
		// Root may open anything: run the status command as nobody, from
		// a copy of this test binary nobody may execute.
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "cli.test")
		copyFile(t, self, bin)
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), statusRunDirEnv+"="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		err = cmd.Run()
		stderr = errOut.String()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if errors.Is(err, syscall.ENOEXEC) && os.Getenv("WANLB_EMULATED") == "1" {
			// Under qemu-user (make qemu sets WANLB_EMULATED) the copy is a
			// foreign binary the kernel cannot run by itself; the native
			// run of make unit covers it. Anywhere else ENOEXEC is a failure.
			t.Skipf("the test binary runs under an emulator: %v", err)
		} else if err != nil {
			t.Fatalf("run as nobody: %v", err)
		}
	} else {
		// Not root: a socket without write permission refuses its owner.
		if err := os.Chmod(sock, 0); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		code = Run([]string{"--run-dir", dir, "status"}, Env{Stdout: &out, Stderr: &errOut})
		stderr = errOut.String()
	}
	t.Logf("exit %d: %s", code, strings.TrimSpace(stderr))
	if code != ExitProblem || !strings.Contains(stderr, "permission denied") || !strings.Contains(stderr, sock) ||
		strings.Contains(stderr, "not running") {
		t.Errorf("exit %d, stderr %q; want 1 and 'permission denied' naming %s", code, stderr, sock)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
