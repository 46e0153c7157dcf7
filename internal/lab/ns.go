package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netns"
)

// netnsDir is where `ip netns add` bind-mounts named namespaces.
const netnsDir = "/run/netns"

// labNamePattern matches the names New gives its namespaces; the embedded pid
// lets a later run tell leftovers of a crashed process from live labs of a
// concurrently running test binary.
var labNamePattern = regexp.MustCompile(`^wlb([0-9]+)x[0-9]+-`)

// errGoexit is reported when fn ended its goroutine with runtime.Goexit,
// which is what t.FailNow/t.Fatal do when called inside Do.
var errGoexit = errors.New("function called runtime.Goexit (t.Fatal/t.FailNow inside Do?)")

// Do runs fn with the calling thread switched into network namespace ns (a
// name under /run/netns, normally one of the lab's). Sockets fn creates stay
// in ns after Do returns, and child processes fn starts inherit ns.
//
// fn runs on a fresh goroutine locked to its OS thread, so the caller's
// thread never changes namespace. If the thread cannot be switched back it
// is left locked, so Go destroys it instead of reusing a thread in the wrong
// namespace. A panic in fn is returned as an error; fn must not call
// t.Fatal (Do then returns an error saying so). Do must not race with Close.
func (l *Lab) Do(ns string, fn func() error) error {
	target, release, err := l.nsHandle(ns)
	if err != nil {
		return err
	}
	defer release()
	done := make(chan error, 1)
	go func() {
		err := errGoexit
		defer func() { done <- err }()
		err = runInNS(ns, target, fn)
	}()
	return <-done
}

// runInNS is the body of Do's goroutine; see Do for the thread discipline.
func runInNS(name string, target netns.NsHandle, fn func() error) (err error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: get current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		// setns failed, so the thread is still in its original namespace.
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: enter netns %s: %w", name, err)
	}
	defer func() {
		if rerr := netns.Set(orig); rerr != nil {
			// Stay locked: the goroutine exits locked and Go kills the thread.
			err = errors.Join(err, fmt.Errorf("lab: return from netns %s: %w", name, rerr))
			return
		}
		runtime.UnlockOSThread()
	}()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("lab: panic in netns %s: %v\n%s", name, r, debug.Stack())
		}
	}()
	return fn()
}

// nsHandle returns a handle for ns, reusing the lab's open handle when ns is
// one of its own so Do does not reopen /run/netns on every call.
func (l *Lab) nsHandle(ns string) (netns.NsHandle, func(), error) {
	l.mu.Lock()
	h, ok := l.handles[ns]
	l.mu.Unlock()
	if ok {
		return h, func() {}, nil
	}
	h, err := netns.GetFromName(ns)
	if err != nil {
		return netns.None(), nil, fmt.Errorf("lab: open netns %s: %w", ns, err)
	}
	return h, func() { h.Close() }, nil
}

// Exec runs `ip netns exec ns name args...` and returns its combined output.
// The error names the command and includes the output.
func (l *Lab) Exec(ns string, name string, args ...string) (string, error) {
	return run("", "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Start starts `ip netns exec ns name args...` in the background and
// collects its combined output. Close kills it if it is still running.
func (l *Lab) Start(ns string, name string, args ...string) (*Process, error) {
	p := &Process{
		Cmd:  exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...),
		done: make(chan struct{}),
	}
	p.Cmd.Stdout = &p.out
	p.Cmd.Stderr = &p.out
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("lab: start %s in %s: lab is closed", name, ns)
	}
	if err := p.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: start %s: %w", strings.Join(p.Cmd.Args, " "), err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	l.procs = append(l.procs, p)
	return p, nil
}

// run executes a host-side tool (ip, tc, ip netns exec ...) with optional
// stdin and reports failures with the full command line and output.
func run(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		msg := fmt.Sprintf("lab: %s: %v: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(out.String()))
		if stdin != "" {
			msg += "\ninput:\n" + stdin
		}
		return out.String(), errors.New(msg)
	}
	return out.String(), nil
}

// addNS creates a named namespace. A namespace that already carries this
// exact name cannot be ours (the counter makes names unique per process), so
// it is a leftover from an earlier process with the same pid and is removed.
func addNS(name string) error {
	if _, err := os.Stat(netnsDir + "/" + name); err == nil {
		_, _ = run("", "ip", "netns", "del", name)
	}
	_, err := run("", "ip", "netns", "add", name)
	return err
}

// cleanupStale deletes namespaces left behind by lab processes that died
// without Close (crash, SIGKILL, test timeout). Namespaces of live processes,
// including other test binaries running in parallel, are left alone.
func cleanupStale() error {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("lab: list %s: %w", netnsDir, err)
	}
	var errs []error
	for _, e := range entries {
		m := labNamePattern.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pidAlive(pid) {
			continue
		}
		if _, err := run("", "ip", "netns", "del", e.Name()); err != nil {
			errs = append(errs, fmt.Errorf("lab: remove stale namespace: %w", err))
		}
	}
	return errors.Join(errs...)
}

// removePrefixed kills the processes in, and deletes, every namespace whose
// name starts with prefix.
func removePrefixed(prefix string) error {
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("lab: list %s: %w", netnsDir, err)
	}
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		killNSProcs(e.Name())
		if _, err := run("", "ip", "netns", "del", e.Name()); err != nil {
			errs = append(errs, fmt.Errorf("lab: remove leftover namespace: %w", err))
		}
	}
	return errors.Join(errs...)
}

// pidAlive reports whether a process exists. EPERM means it exists but we
// may not signal it, which still counts as alive; a zombie (killed test
// binary not yet reaped) counts as dead.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !os.IsNotExist(err)
	}
	// The state follows the parenthesised command name, which may itself
	// contain spaces or parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// killNSProcs kills every process whose network namespace is ns, except this
// process: a Do goroutine may be running on the main thread, which would make
// `ip netns pids` list our own pid.
func killNSProcs(ns string) {
	out, err := run("", "ip", "netns", "pids", ns)
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, f := range strings.Fields(out) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid == self || pid <= 1 {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
