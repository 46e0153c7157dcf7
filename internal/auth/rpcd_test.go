package auth

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/openwrttest"
)

// TestACL is the package's rpcd ACL group as the tests install it: read
// and write of uci config 'wanlb'.
const TestACL = `{
	"luci-app-wanlb": {
		"description": "wanlb settings",
		"read": { "uci": [ "wanlb" ] },
		"write": { "uci": [ "wanlb" ] }
	}
}`

// Passwords of the test users; hostile characters reach rpcd verbatim or
// the right password would be refused.
const (
	rootPassword   = `r00t pw "quoted" $(reboot); \n`
	viewerPassword = "viewer-pw"
	nobodyPassword = "nobody-pw"
)

// startRPCD runs OpenWrt's real rpcd with three logins: root (every ACL
// group, as on OpenWrt), viewer (only the read half of wanlb's group) and
// nobody (no group that covers wanlb).
func startRPCD(t *testing.T) (*openwrttest.Tools, string) {
	t.Helper()
	ow := openwrttest.New(t)
	hash := func(pw string) string {
		h, err := HashSHA512Crypt(pw)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	sock := ow.RPCD(t, []openwrttest.RPCDLogin{
		{Username: "root", Hash: hash(rootPassword), Read: []string{"*"}, Write: []string{"*"}},
		{Username: "viewer", Hash: hash(viewerPassword), Read: []string{"luci-app-wanlb"}},
		{Username: "nobody", Hash: hash(nobodyPassword), Read: []string{"unauthenticated"}},
	}, map[string]string{"luci-app-wanlb.json": TestACL})
	return ow, sock
}

// noUbusCLI empties PATH for the rest of the test: a login that still ran
// the ubus CLI (or anything else) would fail.
func noUbusCLI(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := exec.LookPath("ubus"); err == nil {
		t.Fatal("ubus still on PATH")
	}
}

func TestRPCDLogin(t *testing.T) {
	_, sock := startRPCD(t)
	noUbusCLI(t)
	r := RPCD{Socket: sock}
	ctx := context.Background()
	for _, tc := range []struct {
		name, user, pass string
		want             Access
		wantErr          error
	}{
		{"root", "root", rootPassword, Access{Read: true, Write: true}, nil},
		{"read-only user", "viewer", viewerPassword, Access{Read: true}, nil},
		{"user without wanlb in its ACL", "nobody", nobodyPassword, Access{}, nil},
		{"wrong password", "root", rootPassword + "x", Access{}, ErrInvalidLogin},
		{"another user's password", "viewer", rootPassword, Access{}, ErrInvalidLogin},
		{"unknown user", "ghost", rootPassword, Access{}, ErrInvalidLogin},
		{"empty password", "root", "", Access{}, ErrInvalidLogin},
		{"NUL in the password", "root", rootPassword + "\x00", Access{}, ErrInvalidLogin},
		{"control character in the username", "ro\not", rootPassword, Access{}, ErrInvalidLogin},
		{"password over the limit", "root", strings.Repeat("x", MaxPasswordLen+1), Access{}, ErrInvalidLogin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Login(ctx, tc.user, tc.pass)
			if !errors.Is(err, tc.wantErr) || (err != nil && tc.wantErr == nil) {
				t.Fatalf("Login: %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("access %+v, want %+v", got, tc.want)
			}
		})
	}
	// Each login's rpcd session was destroyed once its ACLs were read:
	// none is left but rpcd's own unauthenticated one.
	out, err := exec.Command(openwrttest.Bin("ubus"), "-s", sock, "call", "session", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ubus call session list: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), `"username"`); n != 0 {
		t.Errorf("%d rpcd login sessions left:\n%s", n, out)
	}
}

// TestRPCDUnavailable: rpcd down or hung is ErrUnavailable (503), never
// ErrInvalidLogin (a counted wrong guess), within the timeout, and the
// error never holds the password.
func TestRPCDUnavailable(t *testing.T) {
	ow, sock := startRPCD(t)
	ow.RPCDDown(t, sock) // leaves the socket file: connection refused
	bare := ow.Ubusd(t)  // ubusd without rpcd
	noUbusCLI(t)

	const timeout = 500 * time.Millisecond
	hung := filepath.Join(t.TempDir(), "hung.sock")
	ln, err := net.Listen("unix", hung)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never answers
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	for _, tc := range []struct{ name, socket, why string }{
		{"rpcd not running", bare, "rpcd is not running (no session object on ubus)"},
		{"rpcd and ubusd stopped", sock, "cannot connect to ubusd"},
		{"no ubusd socket", filepath.Join(t.TempDir(), "none.sock"), "cannot connect to ubusd"},
		{"accepts and never answers", hung, "no answer in time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := RPCD{Socket: tc.socket, Timeout: timeout}.Login(context.Background(), "root", rootPassword)
			took := time.Since(start)
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidLogin) {
				t.Fatalf("Login: %v, want ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %q does not say %q", err, tc.why)
			}
			if strings.Contains(err.Error(), "r00t pw") {
				t.Errorf("error holds the password: %q", err)
			}
			if took > timeout+2*time.Second {
				t.Errorf("took %v with a %v timeout", took, timeout)
			}
		})
	}
}
