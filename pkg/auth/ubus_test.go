package auth

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A session ID as rpcd makes them: 16 random bytes in hex (rpc_random).
const fakeSession = "abc0123456789abcdef0123456789abc"

// rpcd's reply to a successful login, trimmed (acls are much longer).
const loginOK = `{
	"ubus_rpc_session": "` + fakeSession + `",
	"timeout": 60,
	"expires": 60,
	"acls": { "access-group": { "unauthenticated": [ "read" ] } },
	"data": { "username": "root" }
}`

// Shell fragments for the stand-in ubus, run for "call session login" and
// "call session destroy". They mimic what ubus's cli.c prints and returns.
const (
	scriptLoginOK     = "cat <<'EOF'\n" + loginOK + "\nEOF\nexit 0"
	scriptDenied      = "echo 'Command failed: Permission denied' >&2; exit 6"
	scriptNotFound    = "echo 'Command failed: Not found' >&2; exit 4"
	scriptNoConnect   = "echo 'Failed to connect to ubus' >&2; exit 255"
	scriptHang        = "exec sleep 30"
	scriptHangChild   = "sleep 5; exit 0" // the killed shell's child keeps the output pipes open
	scriptNoSession   = "echo '{ \"timeout\": 60 }'; exit 0"
	scriptGarbage     = "echo 'not json'; exit 0"
	scriptDestroyOK   = "exit 0"
	scriptDestroyFail = scriptNotFound
)

// fakeUbus writes a stand-in ubus CLI into a temporary directory. It logs
// each invocation's arguments to a file, NUL-terminated, one invocation
// per line (the arguments never hold a raw newline: JSON escapes them).
func fakeUbus(t *testing.T, login, destroy string) (path, log string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "ubus")
	log = filepath.Join(dir, "args.log")
	if strings.Contains(log, "'") {
		t.Skipf("temporary directory %q holds a quote", dir)
	}
	script := "#!/bin/sh\n" +
		"printf '%s\\0' \"$@\" >> '" + log + "'\n" +
		"printf '\\n' >> '" + log + "'\n" +
		"case \"$3\" in\n" +
		"login) " + login + " ;;\n" +
		"destroy) " + destroy + " ;;\n" +
		"esac\n" +
		"echo 'Command failed: Method not found' >&2; exit 3\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

// calls reads the logged invocations; nil when ubus never ran.
func calls(t *testing.T, log string) [][]string {
	t.Helper()
	data, err := os.ReadFile(log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		out = append(out, strings.Split(strings.TrimSuffix(line, "\x00"), "\x00"))
	}
	return out
}

func TestUbusLogin(t *testing.T) {
	const (
		// Quotes, command substitution, a separator and spaces: a shell
		// anywhere on the way would mangle or run them, and the exact
		// argument check below would see it.
		hostileUser = `a'b"c $(reboot); d`
		hostilePass = `p"w' $x;` + "\t\\"
	)
	loginArg := func(user, pass string) string {
		b, _ := json.Marshal(loginRequest{Username: user, Password: pass, Timeout: 60})
		return string(b)
	}
	destroyArg := `{"ubus_rpc_session":"` + fakeSession + `"}`

	for _, tc := range []struct {
		name           string
		login, destroy string
		user, pass     string
		want           bool
		wantErr        string // substring of the error; empty: no error
		wantCalls      [][]string
	}{
		{
			name: "success", login: scriptLoginOK, destroy: scriptDestroyOK,
			user: "root", pass: "secret", want: true,
			wantCalls: [][]string{
				{"call", "session", "login", `{"username":"root","password":"secret","timeout":60}`},
				{"call", "session", "destroy", destroyArg},
			},
		},
		{
			name: "hostile characters reach ubus verbatim", login: scriptLoginOK, destroy: scriptDestroyOK,
			user: hostileUser, pass: hostilePass, want: true,
			wantCalls: [][]string{
				{"call", "session", "login", `{"username":"a'b\"c $(reboot); d","password":"p\"w' $x;\t\\","timeout":60}`},
				{"call", "session", "destroy", destroyArg},
			},
		},
		{
			name: "64-character username", login: scriptLoginOK, destroy: scriptDestroyOK,
			user: strings.Repeat("é", 64), pass: "x", want: true,
			wantCalls: [][]string{
				{"call", "session", "login", loginArg(strings.Repeat("é", 64), "x")},
				{"call", "session", "destroy", destroyArg},
			},
		},
		{
			name: "destroy failing does not fail the login", login: scriptLoginOK, destroy: scriptDestroyFail,
			user: "root", pass: "secret", want: true,
			wantCalls: [][]string{
				{"call", "session", "login", loginArg("root", "secret")},
				{"call", "session", "destroy", destroyArg},
			},
		},
		{
			name: "wrong password", login: scriptDenied, destroy: scriptDestroyOK,
			user: "root", pass: "wrong", want: false,
			wantCalls: [][]string{{"call", "session", "login", loginArg("root", "wrong")}},
		},
		{
			name: "rpcd not running", login: scriptNotFound, destroy: scriptDestroyOK,
			user: "root", pass: "secret", wantErr: "exit status 4: Command failed: Not found",
			wantCalls: [][]string{{"call", "session", "login", loginArg("root", "secret")}},
		},
		{
			name: "ubusd not running", login: scriptNoConnect, destroy: scriptDestroyOK,
			user: "root", pass: "secret", wantErr: "exit status 255: Failed to connect to ubus",
			wantCalls: [][]string{{"call", "session", "login", loginArg("root", "secret")}},
		},
		{
			name: "success without a session", login: scriptNoSession, destroy: scriptDestroyOK,
			user: "root", pass: "secret", wantErr: "no ubus_rpc_session",
			wantCalls: [][]string{{"call", "session", "login", loginArg("root", "secret")}},
		},
		{
			name: "success with unreadable output", login: scriptGarbage, destroy: scriptDestroyOK,
			user: "root", pass: "secret", wantErr: "reading reply",
			wantCalls: [][]string{{"call", "session", "login", loginArg("root", "secret")}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, log := fakeUbus(t, tc.login, tc.destroy)
			got, err := Ubus{Path: path}.Login(context.Background(), tc.user, tc.pass)
			if got != tc.want || (err != nil) != (tc.wantErr != "") {
				t.Fatalf("Login = %v, %v; want %v, error %q", got, err, tc.want, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not say %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), tc.pass) {
				t.Fatalf("error %q echoes the password", err)
			}
			gotCalls := calls(t, log)
			if !equalCalls(gotCalls, tc.wantCalls) {
				t.Fatalf("ubus ran with\n%q\nwant\n%q", gotCalls, tc.wantCalls)
			}
			// The JSON ubus received decodes back to exactly the input.
			var req loginRequest
			if err := json.Unmarshal([]byte(gotCalls[0][3]), &req); err != nil {
				t.Fatalf("login argument is not valid JSON: %v", err)
			}
			if req.Username != tc.user || req.Password != tc.pass || req.Timeout != 60 {
				t.Fatalf("login argument decodes to %+v", req)
			}
		})
	}
}

func equalCalls(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}

func TestUbusLoginRefusesInvalidInput(t *testing.T) {
	for _, tc := range []struct{ name, user, pass string }{
		{"empty username", "", "secret"},
		{"65-character username", strings.Repeat("a", 65), "secret"},
		{"newline in username", "root\nadmin", "secret"},
		{"tab in username", "root\t", "secret"},
		{"NUL in username", "root\x00", "secret"},
		{"DEL in username", "root\x7f", "secret"},
		{"C1 control in username", "root\u0085", "secret"},
		{"invalid UTF-8 username", "r\xffot", "secret"},
		{"empty password", "root", ""},
		{"password too long", "root", strings.Repeat("p", MaxPasswordLen+1)},
		{"NUL in password", "root", "sec\x00ret"},
		{"invalid UTF-8 password", "root", "s\xffcret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, log := fakeUbus(t, scriptLoginOK, scriptDestroyOK)
			got, err := Ubus{Path: path}.Login(context.Background(), tc.user, tc.pass)
			if got || err != nil {
				t.Fatalf("Login = %v, %v; want false, nil", got, err)
			}
			if c := calls(t, log); c != nil {
				t.Fatalf("ubus ran with %q", c)
			}
		})
	}
}

func TestUbusLoginTimeout(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		within       time.Duration
	}{
		// Killed at the timeout, not after the script's 30 seconds; the
		// bound is loose for slow emulated runs.
		{"hung ubus", scriptHang, 4 * time.Second},
		// The child outlives the kill and holds stdout; Login stops
		// waiting for it after waitDelay instead of the child's 5 seconds.
		{"hung child", scriptHangChild, 300*time.Millisecond + waitDelay + 2*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, log := fakeUbus(t, tc.script, scriptDestroyOK)
			start := time.Now()
			got, err := Ubus{Path: path, Timeout: 300 * time.Millisecond}.Login(context.Background(), "root", "secret")
			elapsed := time.Since(start)
			if got || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Login = %v, %v; want false, deadline exceeded", got, err)
			}
			if elapsed > tc.within {
				t.Fatalf("Login returned after %v, want within %v", elapsed, tc.within)
			}
			if c := calls(t, log); len(c) != 1 {
				t.Fatalf("ubus ran %d times, want once (no destroy without a session)", len(c))
			}
		})
	}
}

func TestUbusLoginCancelled(t *testing.T) {
	path, log := fakeUbus(t, scriptLoginOK, scriptDestroyOK)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := Ubus{Path: path}.Login(ctx, "root", "secret")
	if got || !errors.Is(err, context.Canceled) {
		t.Fatalf("Login = %v, %v; want false, context canceled", got, err)
	}
	if c := calls(t, log); c != nil {
		t.Fatalf("ubus ran with %q", c)
	}
}

func TestUbusLoginMissingBinary(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-ubus")
	got, err := Ubus{Path: missing}.Login(context.Background(), "root", "secret")
	if got || err == nil {
		t.Fatalf("Login = %v, %v; want false and an error", got, err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %q echoes the password", err)
	}
}
