package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wanlb/wanlb/internal/ubus"
)

// ErrInvalidLogin means the username and password are not a login: rpcd
// answered "Permission denied", or the input cannot be one. The web UI
// answers 401 and counts it as a failed guess.
var ErrInvalidLogin = errors.New("invalid username or password")

// ErrUnavailable wraps every failure to get rpcd's answer: ubusd or rpcd
// not running, not answering in time, answering nonsense. The web UI
// answers 503. Its message never holds the password.
var ErrUnavailable = errors.New("the router's login service (rpcd) did not answer")

// Access is what a login may do with wanlb's settings, as rpcd's ACLs
// grant it (scope "uci", object "wanlb", functions "read" and "write"):
// the same rule LuCI applies to the package's config.
type Access struct {
	Read  bool
	Write bool
}

// Full is the access of a login that rpcd's ACLs do not govern
// (ui.auth 'password').
var Full = Access{Read: true, Write: true}

// ACL scope, object and functions rpcd's `session access` is asked about.
const (
	aclScope  = "uci"
	aclObject = "wanlb"
)

const (
	// DefaultRPCDTimeout bounds a whole login (connect, login, two ACL
	// questions, destroy). rpcd answers in milliseconds; a crypt of a
	// slow hash takes well under a second even on a small router.
	DefaultRPCDTimeout = 5 * time.Second
	// rpcSessionTimeout is the lifetime, in seconds, of the rpcd session a
	// login creates. wanlb destroys it at once; the short timeout limits
	// how long it lingers when the destroy fails.
	rpcSessionTimeout = 60
	// maxUsernameRunes bounds usernames handed to rpcd; router users are
	// short Unix names, so anything longer is not one of them.
	maxUsernameRunes = 64
	// maxRPCDReply caps one message from ubusd. A login reply lists the
	// session's ACLs: a few KiB with LuCI's full set.
	maxRPCDReply = 256 << 10
)

// RPCD checks the router's own users (ui.auth 'system') the way LuCI
// does: rpcd's session.login over ubus, then session.access for wanlb's
// config. It talks to ubusd natively (package ubus): no process is
// started, and the password never leaves wanlb but over ubusd's socket.
// The zero value uses ubus.DefaultSocket and DefaultRPCDTimeout.
type RPCD struct {
	// Socket is ubusd's socket; empty means ubus.DefaultSocket.
	Socket string
	// Timeout bounds each Login; zero or negative means DefaultRPCDTimeout.
	Timeout time.Duration
}

// Login asks rpcd whether username and password are a login on the
// router and, if so, what rpcd's ACLs let it do with wanlb's settings.
//
// A refused login (rpcd's "Permission denied": wrong password or unknown
// user) is ErrInvalidLogin, as is input that cannot be a router login (a
// username of 0 or more than 64 characters or with control characters, a
// password of 0 or more than MaxPasswordLen bytes, a NUL byte, invalid
// UTF-8), refused without asking rpcd. Any failure to get an answer wraps
// ErrUnavailable. Errors never hold the password.
//
// rpcd creates a session for every successful login; wanlb keeps its own
// sessions, so Login destroys rpcd's once it has the ACL answers (if that
// fails, rpcd drops it after 60 seconds). The rpcd session ID never
// leaves this function.
//
// Note rpcd's own rule: a login section whose password is empty, or that
// points at a system user without a password (a fresh OpenWrt's root),
// accepts any password. Login inherits that, exactly as LuCI does.
func (r RPCD) Login(ctx context.Context, username, password string) (Access, error) {
	if !validLogin(username, password) {
		return Access{}, ErrInvalidLogin
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultRPCDTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := ubus.Client{Socket: r.Socket, Timeout: timeout, MaxReply: maxRPCDReply}.Dial(ctx)
	if err != nil {
		return Access{}, unavailable(err)
	}
	defer conn.Close()

	reply, err := conn.Call(ctx, "session", "login", ubus.Table{
		{Name: "username", Value: username},
		{Name: "password", Value: password},
		{Name: "timeout", Value: rpcSessionTimeout},
	})
	switch {
	case errors.Is(err, ubus.StatusPermissionDenied):
		return Access{}, ErrInvalidLogin
	case err != nil:
		return Access{}, unavailable(err)
	}
	sid, _ := reply["ubus_rpc_session"].(string)
	if sid == "" {
		return Access{}, unavailable(errors.New("session login: reply holds no ubus_rpc_session"))
	}
	defer destroy(ctx, conn, sid)

	var access Access
	for _, q := range []struct {
		function string
		to       *bool
	}{{"read", &access.Read}, {"write", &access.Write}} {
		reply, err := conn.Call(ctx, "session", "access", ubus.Table{
			{Name: "ubus_rpc_session", Value: sid},
			{Name: "scope", Value: aclScope},
			{Name: "object", Value: aclObject},
			{Name: "function", Value: q.function},
		})
		if err != nil {
			return Access{}, unavailable(err)
		}
		allowed, ok := reply["access"].(bool)
		if !ok {
			return Access{}, unavailable(fmt.Errorf("session access: reply holds no access flag"))
		}
		*q.to = allowed
	}
	return access, nil
}

// destroy ends the rpcd session a login created, best effort: rpcd drops
// it by itself after rpcSessionTimeout. It gets a moment of its own even
// when ctx was cancelled (a client that hung up), since the session exists
// either way.
func destroy(ctx context.Context, conn *ubus.Conn, sid string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_, _ = conn.Call(ctx, "session", "destroy", ubus.Table{{Name: "ubus_rpc_session", Value: sid}})
}

// unavailable wraps err as ErrUnavailable, explaining the common causes.
// err comes from package ubus, which never quotes what was sent.
func unavailable(err error) error {
	var why string
	switch {
	case errors.Is(err, ubus.ErrConnect):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.Is(err, ubus.StatusNotFound):
		why = "rpcd is not running (no session object on ubus)"
	case errors.Is(err, context.DeadlineExceeded):
		why = "no answer in time"
	case errors.Is(err, context.Canceled):
		why = "the request was cancelled"
	default:
		why = "ubus call failed"
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, why, err)
}

// validLogin reports whether username and password could be a router
// login at all. What it refuses never reaches rpcd: control characters
// and NUL have no place in a Unix username and would be cut or mangled on
// the way through C strings; invalid UTF-8 cannot be a password anyone
// typed into a browser.
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
