package netifd

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func prefixes(ps ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		file string // testdata file, or
		json string // inline JSON
		want Interface
	}{
		{
			name: "dhcp wan up",
			file: "dhcp_up.json",
			want: Interface{Name: "wan", Up: true, Proto: "dhcp", Device: "eth1",
				Gateway: netip.MustParseAddr("198.18.1.1"), DNS: addrs("198.18.0.53", "198.18.0.54"), Addrs: prefixes("198.18.1.10/24")},
		},
		{
			// defaultroute 0: netifd keeps the default route under "inactive".
			name: "dhcp wan with defaultroute 0",
			file: "dhcp_nodefaultroute.json",
			want: Interface{Name: "wan", Up: true, Proto: "dhcp", Device: "eth2",
				Gateway: netip.MustParseAddr("198.18.3.1"), DNS: addrs("198.18.3.1"), Addrs: prefixes("198.18.3.30/24")},
		},
		{
			// OpenWrt's ppp-up adds the default route via the peer (IPREMOTE).
			name: "pppoe via peer",
			file: "pppoe.json",
			want: Interface{Name: "wan", Up: true, Proto: "pppoe", Device: "pppoe-wan",
				Gateway: netip.MustParseAddr("198.18.2.1"), DNS: addrs("198.18.2.53", "198.18.2.54"), Addrs: prefixes("198.18.2.20/32")},
		},
		{
			name: "pppoe with a device default route",
			file: "pppoe_ptp.json",
			want: Interface{Name: "wan", Up: true, Proto: "pppoe", Device: "pppoe-wan", DNS: addrs("198.18.2.53"), Addrs: prefixes("198.18.2.21/32")},
		},
		{
			name: "down",
			file: "down.json",
			want: Interface{Name: "wan", Proto: "dhcp"},
		},
		{
			// IPv6 default route and DNS server skipped; of two IPv4
			// default routes the lower metric wins; a /24 route is no
			// default route.
			name: "4g qmi",
			file: "wwan_qmi.json",
			want: Interface{Name: "wan", Up: true, Proto: "qmi", Device: "wwan0",
				Gateway: netip.MustParseAddr("198.18.4.73"), DNS: addrs("198.18.4.53", "198.18.4.54"), Addrs: prefixes("198.18.4.77/29")},
		},
		{
			name: "minimal up, no routes, odd dns entries skipped",
			json: `{"up": true, "l3_device": "eth0.2", "dns-server": ["", "banana", "fe80::1%eth0", "198.18.9.9"], "future-key": {"x": [1]}}`,
			want: Interface{Name: "wan", Up: true, Device: "eth0.2", DNS: addrs("198.18.9.9")},
		},
		{
			name: "an active default route beats an inactive one",
			json: `{"up": true, "l3_device": "eth1",
				"route": [{"target": "0.0.0.0", "mask": 0, "nexthop": "198.18.1.1", "source": "0.0.0.0/0"}],
				"inactive": {"route": [{"target": "0.0.0.0", "mask": 0, "nexthop": "198.18.1.2", "source": "0.0.0.0/0"}]}}`,
			want: Interface{Name: "wan", Up: true, Device: "eth1", Gateway: netip.MustParseAddr("198.18.1.1")},
		},
		{
			name: "ipv6-only default route",
			json: `{"up": true, "l3_device": "eth1", "route": [{"target": "::", "mask": 0, "nexthop": "fe80::1", "source": "::/0"}]}`,
			want: Interface{Name: "wan", Up: true, Device: "eth1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.json)
			if tc.file != "" {
				in = readTestdata(t, tc.file)
			}
			got, err := Parse("wan", in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse =\n  %+v\nwant\n  %+v", got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, json, wantErr string
	}{
		{"empty", ``, "EOF"},
		{"not json", `Command failed: Not found`, "invalid character"},
		{"array", `[]`, "cannot unmarshal array"},
		{"no up key", `{"l3_device": "eth1"}`, `no "up" key`},
		{"up not a bool", `{"up": "yes"}`, "cannot unmarshal string"},
		{"device with a space", `{"up": true, "l3_device": "eth1 -j ACCEPT"}`, "l3_device 'eth1 -j ACCEPT'"},
		{"device too long", `{"up": true, "l3_device": "abcdefghijklmnop"}`, "l3_device"},
		{"bad nexthop", `{"up": true, "route": [{"target": "0.0.0.0", "mask": 0, "nexthop": "banana"}]}`, "nexthop 'banana'"},
		{"ipv6 nexthop on ipv4 route", `{"up": true, "route": [{"target": "0.0.0.0", "mask": 0, "nexthop": "fe80::1"}]}`, "nexthop 'fe80::1'"},
		{"bad inactive nexthop", `{"up": true, "inactive": {"route": [{"target": "0.0.0.0", "mask": 0, "nexthop": "x"}]}}`, "nexthop 'x'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("wan", []byte(tc.json))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", got)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "'wan'") {
				t.Errorf("error %q does not contain %q and the interface name", err, tc.wantErr)
			}
		})
	}
}

// standIn writes an executable shell script called ubus into a new
// directory and returns its path.
func standIn(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ubus")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// testdataUbus is a stand-in ubus that insists on exactly
// `call network.interface.<name> status` and prints a testdata file, or
// fails like real ubus for an object that does not exist.
func testdataUbus(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(abs, "'\n") {
		t.Skipf("testdata path %q cannot be quoted in the stand-in script", abs)
	}
	return standIn(t, `
if [ $# -ne 3 ] || [ "$1" != call ] || [ "$3" != status ]; then
	echo "stand-in ubus: unexpected arguments: $*" >&2
	exit 2
fi
case "$2" in
network.interface.wan) exec cat '`+abs+`/dhcp_up.json' ;;
network.interface.wanb) exec cat '`+abs+`/pppoe_ptp.json' ;;
network.interface.wwan) exec cat '`+abs+`/wwan_qmi.json' ;;
network.interface.wanc) exec cat '`+abs+`/down.json' ;;
network.interface.broken) echo 'Failed to connect to ubus' >&2; exit 255 ;;
network.interface.garbage) echo 'hello' ;;
*) echo 'Command failed: Not found' >&2; exit 4 ;;
esac
`)
}

func TestStatus(t *testing.T) {
	c := Client{UbusPath: testdataUbus(t)}
	tests := []struct {
		name    string
		want    Interface
		wantErr string
	}{
		{name: "wan", want: Interface{Name: "wan", Up: true, Proto: "dhcp", Device: "eth1",
			Gateway: netip.MustParseAddr("198.18.1.1"), DNS: addrs("198.18.0.53", "198.18.0.54"), Addrs: prefixes("198.18.1.10/24")}},
		{name: "wanb", want: Interface{Name: "wanb", Up: true, Proto: "pppoe", Device: "pppoe-wan", DNS: addrs("198.18.2.53"), Addrs: prefixes("198.18.2.21/32")}},
		{name: "wwan", want: Interface{Name: "wwan", Up: true, Proto: "qmi", Device: "wwan0",
			Gateway: netip.MustParseAddr("198.18.4.73"), DNS: addrs("198.18.4.53", "198.18.4.54"), Addrs: prefixes("198.18.4.77/29")}},
		{name: "wanc", want: Interface{Name: "wanc", Proto: "dhcp"}},
		{name: "nosuch", wantErr: "ubus call network.interface.nosuch status: no such netifd interface (Command failed: Not found)"},
		{name: "broken", wantErr: "exit status 255: Failed to connect to ubus"},
		{name: "garbage", wantErr: "parsing interface 'garbage' status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Status(context.Background(), tc.name)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Status = %+v, %v; want error containing %q", got, err, tc.wantErr)
				}
				if errors.Is(err, ErrNotFound) != (tc.name == "nosuch") {
					t.Errorf("errors.Is(%v, ErrNotFound) = %v", err, !(tc.name == "nosuch"))
				}
				return
			}
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Status =\n  %+v\nwant\n  %+v", got, tc.want)
			}
		})
	}
}

func TestStatusFindsUbusOnPath(t *testing.T) {
	script := testdataUbus(t)
	t.Setenv("PATH", filepath.Dir(script)+string(os.PathListSeparator)+os.Getenv("PATH"))
	got, err := Client{}.Status(context.Background(), "wan")
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if got.Device != "eth1" {
		t.Errorf("Device = %q, want eth1", got.Device)
	}
}

func TestStatusRejectsInvalidNames(t *testing.T) {
	// The stand-in leaves a mark whenever it runs: no invalid name may get
	// as far as running anything.
	mark := filepath.Join(t.TempDir(), "ran")
	c := Client{UbusPath: standIn(t, "touch '"+mark+"'\necho '{\"up\": true}'\n")}
	for _, name := range []string{"", "wan b", "wan;reboot", "$(reboot)", "wan-b", "../wan", "wan\n", "wan.x", "-h", "ẁan"} {
		if got, err := c.Status(context.Background(), name); err == nil || !strings.Contains(err.Error(), "invalid interface name") {
			t.Errorf("Status(%q) = %+v, %v; want an invalid name error", name, got, err)
		}
	}
	if _, err := os.Stat(mark); err == nil {
		t.Fatal("the stand-in ubus ran for an invalid name")
	}
	// The same stand-in does run for a valid name: the mark works.
	if _, err := c.Status(context.Background(), "wan_6"); err != nil {
		t.Fatalf("Status(wan_6): %v", err)
	}
	if _, err := os.Stat(mark); err != nil {
		t.Fatalf("stand-in did not run for a valid name: %v", err)
	}
}

func TestStatusKillsHungUbus(t *testing.T) {
	// The stand-in hangs in a child process, as a wrapper script around a
	// stuck ubus would: the timeout must kill the child too, and Status
	// must not wait for it.
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	c := Client{UbusPath: standIn(t, "sleep 60 &\necho $! > '"+pidFile+"'\nwait\n"), Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := c.Status(context.Background(), "wan")
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("Status error = %v, want a timeout", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("Status took %v with a 300ms timeout", elapsed)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the stand-in did not start its child: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the hung stand-in's child %d survived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running reports whether pid is a live process; a zombie (killed, not yet
// reaped by whoever inherited it) is not.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may itself
	// hold ") ".
	i := strings.LastIndex(string(b), ") ")
	if i < 0 || i+2 >= len(b) {
		return false
	}
	state := b[i+2]
	return state != 'Z' && state != 'X'
}

func TestStatusCallerCancel(t *testing.T) {
	c := Client{UbusPath: standIn(t, "exec sleep 60\n"), Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Status(ctx, "wan")
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("Status error = %v, want the caller's deadline", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Status ignored the caller's deadline")
	}
}

func TestStatusTooMuchOutput(t *testing.T) {
	// 2 MiB of spaces is valid JSON whitespace; it must be refused unread.
	c := Client{UbusPath: standIn(t, "head -c 2097152 /dev/zero | tr '\\0' ' '\necho '{\"up\": true}'\n")}
	if _, err := c.Status(context.Background(), "wan"); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Status error = %v, want output too long", err)
	}
}

func TestFakeUbusScriptRoundTrip(t *testing.T) {
	ifaces := map[string]Interface{
		"wan": {Up: true, Proto: "dhcp", Device: "eth1", Gateway: netip.MustParseAddr("198.18.1.1"),
			DNS: addrs("198.18.0.53", "198.18.0.54"), Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.1.20/24")}},
		"wanb": {Up: true, Proto: "pppoe", Device: "pppoe-wanb", DNS: addrs("198.18.2.53")},
		"wwan": {Up: true, Device: "wwan0", Gateway: netip.MustParseAddr("198.18.4.73")},
		"wanc": {Proto: "dhcp", Device: "eth3"}, // down: netifd prints no l3_device
	}
	path, err := FakeUbusScript(t.TempDir(), ifaces)
	if err != nil {
		t.Fatal(err)
	}
	c := Client{UbusPath: path}
	for name, in := range ifaces {
		t.Run(name, func(t *testing.T) {
			want := in
			want.Name = name
			if !want.Up {
				want.Device = ""
			}
			got, err := c.Status(context.Background(), name)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip =\n  %+v\nwant\n  %+v", got, want)
			}
		})
	}
	if _, err := c.Status(context.Background(), "nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Status(nosuch) error = %v, want ErrNotFound", err)
	}

	// Like real ubus: exit 4 and "Command failed: Not found" on stderr.
	cmd := exec.Command(path, "call", "network.interface.nosuch", "status")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 4 || stderr.String() != "Command failed: Not found\n" {
		t.Errorf("unknown interface: %v, stderr %q; want exit 4 and Command failed: Not found", err, stderr.String())
	}
	// Anything but a status call is refused, so a test notices new calls.
	for _, args := range [][]string{{"list"}, {"call", "network.interface.wan", "up"}, {"call", "network.interface.wan", "status", "{}"}} {
		if err := exec.Command(path, args...).Run(); !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
			t.Errorf("ubus %v: %v, want exit 2", args, err)
		}
	}
}

func TestFakeUbusScriptRejects(t *testing.T) {
	tests := map[string]map[string]Interface{
		"bad name":     {"wan;reboot": {}},
		"bad device":   {"wan": {Up: true, Device: "eth1 x"}},
		"ipv6 gateway": {"wan": {Up: true, Device: "eth1", Gateway: netip.MustParseAddr("fe80::1")}},
	}
	for name, ifaces := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := FakeUbusScript(dir, ifaces); err == nil {
				t.Fatal("FakeUbusScript accepted it")
			}
			if _, err := os.Stat(filepath.Join(dir, "ubus")); err == nil {
				t.Error("a script was written anyway")
			}
		})
	}
}

func TestStatusJSONShape(t *testing.T) {
	// The fake's JSON must have netifd's keys where Parse and people look.
	up, err := StatusJSON(Interface{Name: "wan", Up: true, Proto: "dhcp", Device: "eth1", Gateway: netip.MustParseAddr("198.18.1.1")})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"up": true`, `"l3_device": "eth1"`, `"proto": "dhcp"`, `"route": [`, `"nexthop": "198.18.1.1"`, `"dns-server": []`, `"inactive": {`, `"data": {}`} {
		if !strings.Contains(string(up), key) {
			t.Errorf("up status lacks %s:\n%s", key, up)
		}
	}
	if !strings.HasPrefix(string(up), "{\n\t\"up\": true,\n\t\"pending\": false,\n\t\"available\": true,") {
		t.Errorf("up status does not start like netifd's:\n%s", up)
	}
	down, err := StatusJSON(Interface{Name: "wan", Device: "eth1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"l3_device", "route", "dns-server", "uptime", "metric"} {
		if strings.Contains(string(down), `"`+key+`"`) {
			t.Errorf("down status has %q, netifd prints it only while up:\n%s", key, down)
		}
	}
}
