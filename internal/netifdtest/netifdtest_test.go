package netifdtest_test

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/netifd"
	"github.com/wanlb/wanlb/internal/netifdtest"
	"github.com/wanlb/wanlb/internal/openwrttest"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// TestServeRoundTrip serves interfaces on the real ubusd and reads them
// back through wanlb's client, then changes them while the stand-in runs
// (as a DHCP renewal or an ifdown would).
func TestServeRoundTrip(t *testing.T) {
	ow := openwrttest.New(t)
	ns := ow.Namespace(t)
	ifaces := map[string]netifd.Interface{
		"wan": {Up: true, Proto: "dhcp", Device: "eth1", Gateway: netip.MustParseAddr("198.18.1.1"),
			DNS: addrs("198.18.0.53", "198.18.0.54"), Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.1.20/24")}},
		"wanb": {Up: true, Proto: "pppoe", Device: "pppoe-wanb", DNS: addrs("198.18.2.53")},
		"wwan": {Up: true, Device: "wwan0", Gateway: netip.MustParseAddr("198.18.4.73")},
		"wanc": {Proto: "dhcp", Device: "eth3"}, // down: netifd prints no l3_device
		"wan6": {Up: true, Proto: "dhcpv6", Device: "eth1", Default6: true, Gateway6: netip.MustParseAddr("fe80::1"),
			Addrs6: []netip.Prefix{netip.MustParsePrefix("2001:db8:0:1::1a2b/128")}},
		"wanb6": {Up: true, Proto: "dhcpv6", Device: "pppoe-wanb", Default6: true},
	}
	run := netifdtest.Serve(t, ow, ns, ifaces)
	c := netifd.Client{Socket: filepath.Join(run, "ubus", "ubus.sock"), Timeout: 10 * time.Second}
	check := func(ifaces map[string]netifd.Interface) {
		t.Helper()
		for name, in := range ifaces {
			want := in
			want.Name = name
			if !want.Up {
				want.Device = ""
			}
			got, err := c.Status(context.Background(), name)
			if err != nil {
				t.Fatalf("Status(%s): %v", name, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip of %s =\n  %+v\nwant\n  %+v", name, got, want)
			}
		}
	}
	check(ifaces)
	if _, err := c.Status(context.Background(), "nosuch"); !errors.Is(err, netifd.ErrNotFound) {
		t.Errorf("Status(nosuch) error = %v, want ErrNotFound", err)
	}

	// Changed at run time: the same ubusd answers the new state at once.
	ifaces["wan"] = netifd.Interface{Up: true, Proto: "dhcp", Device: "eth1", Gateway: netip.MustParseAddr("198.18.1.254")}
	ifaces["wanb"] = netifd.Interface{Proto: "pppoe"}
	if again := netifdtest.Serve(t, ow, ns, ifaces); again != run {
		t.Errorf("served again under %s, first under %s", again, run)
	}
	check(ifaces)
}

func TestRejects(t *testing.T) {
	for name, ifaces := range map[string]map[string]netifd.Interface{
		"bad name":      {"wan;reboot": {}},
		"bad device":    {"wan": {Up: true, Device: "eth1 x"}},
		"ipv6 gateway":  {"wan": {Up: true, Device: "eth1", Gateway: netip.MustParseAddr("fe80::1")}},
		"ipv4 gateway6": {"wan6": {Up: true, Device: "eth1", Gateway6: netip.MustParseAddr("198.18.1.1")}},
	} {
		t.Run(name, func(t *testing.T) {
			if js, err := netifdtest.DumpJSON(ifaces); err == nil {
				t.Fatalf("DumpJSON accepted it:\n%s", js)
			}
		})
	}
}

func TestStatusJSONShape(t *testing.T) {
	// The JSON must have netifd's keys where Parse and people look.
	up, err := netifdtest.StatusJSON(netifd.Interface{Name: "wan", Up: true, Proto: "dhcp", Device: "eth1", Gateway: netip.MustParseAddr("198.18.1.1")})
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
	down, err := netifdtest.StatusJSON(netifd.Interface{Name: "wan", Device: "eth1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"l3_device", "route", "dns-server", "uptime", "metric"} {
		if strings.Contains(string(down), `"`+key+`"`) {
			t.Errorf("down status has %q, netifd prints it only while up:\n%s", key, down)
		}
	}
	dump, err := netifdtest.DumpJSON(map[string]netifd.Interface{"wanb": {}, "wan": {}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(dump), "{\n\t\"interface\": [\n\t\t{\n\t\t\t\"interface\": \"wan\",\n\t\t\t\"up\": false,") {
		t.Errorf("dump does not start like netifd's:\n%s", dump)
	}
}
