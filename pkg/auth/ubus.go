package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// How the ubus CLI reports a call's outcome (openwrt/ubus cli.c, main):
// it exits with the call's status, an enum ubus_msg_status value from
// ubusmsg.h (0 OK, 1 invalid command, 2 invalid argument, 3 method not
// found, 4 not found, 5 no data, 6 permission denied, 7 timeout, 8 not
// supported, 9 unknown error, 10 connection failed), after printing
// "Command failed: <ubus_strerror>" to stderr (libubus.c has the texts).
// It returns -1, exit status 255, when it cannot connect to ubusd or parse
// the JSON argument, and -2 (254) after printing its usage.
//
// rpcd's session.login (openwrt/rpcd session.c, rpc_handle_login) returns
// UBUS_STATUS_PERMISSION_DENIED when no "login" section of /etc/config/rpcd
// matches the username and password; that is LuCI's "wrong password".
// ubusd itself answers the same status when its ACLs (ubusd_acl.c) refuse
// a non-root caller, which wanlb, run by procd as root, is not.
const (
	ubusStatusInvalidArgument  = 2   // UBUS_STATUS_INVALID_ARGUMENT: username or password missing
	ubusStatusNotFound         = 4   // UBUS_STATUS_NOT_FOUND: no "session" object, rpcd not running
	ubusStatusPermissionDenied = 6   // UBUS_STATUS_PERMISSION_DENIED: wrong username or password
	ubusStatusTimeout          = 7   // UBUS_STATUS_TIMEOUT: rpcd did not answer within ubus's -t
	ubusExitConnectFailed      = 255 // ubus_connect failed, or the JSON argument did not parse
)

const (
	// DefaultUbusPath is the ubus CLI, found through PATH.
	DefaultUbusPath = "ubus"
	// DefaultUbusTimeout bounds each ubus call; rpcd answers a login in
	// milliseconds, so 5s only trips when rpcd or ubusd hangs.
	DefaultUbusTimeout = 5 * time.Second
)

const (
	// rpcSessionTimeout is the lifetime, in seconds, of the rpcd session a
	// login creates. wanlb destroys it at once; the short timeout limits
	// how long it lingers when the destroy fails.
	rpcSessionTimeout = 60

	// maxUsernameRunes bounds usernames handed to rpcd; router users are
	// short Unix names, so anything longer is not one of them.
	maxUsernameRunes = 64
	// maxStderr bounds the ubus diagnostics quoted in an error.
	maxStderr = 200
	// waitDelay bounds how long Login waits for the output pipes after
	// killing ubus at the timeout, in case a child still holds them.
	waitDelay = time.Second
)

// Ubus checks the router's own users (ui.auth 'system') the way LuCI does:
// by calling rpcd's session.login through the ubus command-line tool.
// The zero value uses "ubus" from PATH and a 5 second timeout.
type Ubus struct {
	// Path of the ubus CLI; empty means DefaultUbusPath.
	Path string
	// Timeout for each ubus call; zero or negative means DefaultUbusTimeout.
	Timeout time.Duration
}

// loginRequest is session.login's argument. The field order is the order
// rpcd's login_policy lists them; json.Marshal escapes every character
// that would otherwise break the JSON.
type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Timeout  int    `json:"timeout"`
}

// loginReply is the part of session.login's answer wanlb reads.
type loginReply struct {
	Session string `json:"ubus_rpc_session"`
}

// destroyRequest is session.destroy's argument (sid_policy in session.c).
type destroyRequest struct {
	Session string `json:"ubus_rpc_session"`
}

// Login reports whether username and password are a valid login on the
// router, as rpcd (and so LuCI) decides.
//
// It runs `ubus call session login <json>` directly, never through a shell,
// so no character of the username or password is interpreted by anything
// but the JSON parser. The result is (true, nil) for a login rpcd accepted,
// (false, nil) for one it refused (ubus exit status 6, "Permission
// denied"), and (false, err) when the question could not be asked: ubus
// missing, rpcd not running, a timeout. Input that cannot be a router login
// (a username of 0 or more than 64 characters or with control characters,
// a password of 0 or more than MaxPasswordLen bytes, a NUL byte or invalid
// UTF-8) is refused with (false, nil) without running ubus.
//
// rpcd creates a session for every successful login; wanlb keeps its own
// sessions, so Login destroys rpcd's at once (best effort: if that fails,
// rpcd drops it after 60 seconds).
//
// Note rpcd's own rule: a login section whose password is empty, or that
// points at a system user without a password (a fresh OpenWrt's root),
// accepts any password. Login inherits that, exactly as LuCI does.
func (u Ubus) Login(ctx context.Context, username, password string) (bool, error) {
	if !validLogin(username, password) {
		return false, nil
	}
	arg, err := json.Marshal(loginRequest{Username: username, Password: password, Timeout: rpcSessionTimeout})
	if err != nil {
		return false, fmt.Errorf("auth: encoding ubus login request: %w", err)
	}
	out, code, err := u.call(ctx, "login", arg)
	if err != nil {
		return false, err
	}
	switch code {
	case 0:
	case ubusStatusPermissionDenied:
		return false, nil
	default:
		return false, fmt.Errorf("auth: ubus call session login: %s", describeExit(code, out.stderr))
	}
	var reply loginReply
	if err := json.Unmarshal(out.stdout, &reply); err != nil {
		return false, fmt.Errorf("auth: ubus call session login: reading reply: %w", err)
	}
	if reply.Session == "" {
		return false, errors.New("auth: ubus call session login: reply holds no ubus_rpc_session")
	}
	u.destroy(ctx, reply.Session)
	return true, nil
}

// destroy ends the rpcd session a login created. Failures are ignored: the
// session expires by itself after rpcSessionTimeout. It runs even when the
// caller's context was just cancelled (a client that hung up), since the
// session exists either way.
func (u Ubus) destroy(ctx context.Context, session string) {
	arg, err := json.Marshal(destroyRequest{Session: session})
	if err != nil {
		return
	}
	_, _, _ = u.call(context.WithoutCancel(ctx), "destroy", arg)
}

type ubusOutput struct {
	stdout, stderr []byte
}

// call runs `ubus call session <method> <arg>` with the timeout. It returns
// the exit status when ubus ran to completion, and an error when it could
// not be started, was killed at the timeout or died of a signal.
func (u Ubus) call(ctx context.Context, method string, arg []byte) (ubusOutput, int, error) {
	path := u.Path
	if path == "" {
		path = DefaultUbusPath
	}
	timeout := u.Timeout
	if timeout <= 0 {
		timeout = DefaultUbusTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "call", "session", method, string(arg))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	out := ubusOutput{stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return out, 0, fmt.Errorf("auth: ubus call session %s: %w", method, ctxErr)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return out, 0, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		return out, exitErr.ExitCode(), nil
	default:
		// Not found, not executable, killed by a signal. The error names
		// the program, never the arguments, so the password stays out of
		// logs.
		return out, 0, fmt.Errorf("auth: ubus call session %s: %w", method, err)
	}
}

// describeExit explains a ubus exit status for an error message.
func describeExit(code int, stderr []byte) string {
	var why string
	switch code {
	case ubusStatusInvalidArgument:
		why = "rpcd rejected the request"
	case ubusStatusNotFound:
		why = "no session object on ubus (is rpcd running?)"
	case ubusStatusTimeout:
		why = "rpcd did not answer"
	case ubusExitConnectFailed:
		why = "cannot connect to ubusd or parse the request"
	default:
		why = "unexpected failure"
	}
	msg := strings.TrimSpace(string(stderr))
	if len(msg) > maxStderr {
		msg = msg[:maxStderr] + "..."
	}
	if msg == "" {
		return fmt.Sprintf("%s (exit status %d)", why, code)
	}
	return fmt.Sprintf("%s (exit status %d: %s)", why, code, msg)
}

// validLogin reports whether username and password could be a router
// login at all. What it refuses never reaches rpcd: control characters
// and NUL have no place in a Unix username and would be cut or mangled on
// the way through C strings; invalid UTF-8 cannot pass through JSON
// unchanged (json.Marshal would replace it), so it could never match.
func validLogin(username, password string) bool {
	if !utf8.ValidString(username) || !utf8.ValidString(password) {
		return false
	}
	if n := utf8.RuneCountInString(username); n < 1 || n > maxUsernameRunes {
		return false
	}
	for _, r := range username {
		if unicode.IsControl(r) {
			return false
		}
	}
	if len(password) < 1 || len(password) > MaxPasswordLen {
		return false
	}
	return !strings.ContainsRune(password, 0)
}
