package daemon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/wanlb/wanlb/internal/tracker"
)

// HookTimeout bounds the hook script.
const HookTimeout = 10 * time.Second

// HookWaitDelay bounds how long the daemon keeps reading a hook's output
// once the hook exited or was killed: a child the hook left in the
// background (`sleep 1000 &`) holds the output pipe open, and without a
// bound the wait for it would block the daemon's stop, which procd ends
// with SIGKILL after 5 s, before wanlb removed its rules.
const HookWaitDelay = time.Second

// runHook runs the hook script in the background: ACTION, WAN, DEVICE and
// FAMILY in its environment, never blocking the state goroutine. The hook
// runs in its own process group, killed whole after HookTimeout or when
// the daemon stops, so the children it is still waiting for go with it.
// Children it left running when it exited are not killed: a hook may start
// something on purpose (it should redirect their output).
func (d *Daemon) runHook(action, wan, device, family string) {
	path := d.cfg.Globals.Hook
	if path == "" {
		return
	}
	if st, err := os.Stat(path); err != nil || st.Mode()&0o111 == 0 {
		return
	}
	if d.hookCtx == nil {
		d.hookCtx, d.stopHooks = context.WithCancel(context.Background())
	}
	parent := d.hookCtx
	d.hooks.Add(1)
	go func() {
		defer d.hooks.Done()
		ctx, cancel := context.WithTimeout(parent, HookTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, path)
		cmd.Env = append(os.Environ(), "ACTION="+action, "WAN="+wan, "DEVICE="+device, "FAMILY="+family)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = HookWaitDelay
		if out, err := cmd.CombinedOutput(); err != nil {
			d.log.Warn(fmt.Sprintf("hook %s %s %s: %v: %s", path, action, wan, err, out))
		}
	}()
}

// hookAction is the hook's ACTION for a change to state to: online and
// offline run it, the states between do not.
func hookAction(to tracker.State) string {
	switch to {
	case tracker.Online:
		return "online"
	case tracker.Offline:
		return "offline"
	}
	return ""
}

// waitHooks ends the hooks still running and waits for them; it returns
// within HookWaitDelay and a little.
func (d *Daemon) waitHooks() {
	if d.stopHooks != nil {
		d.stopHooks()
	}
	d.hooks.Wait()
}
