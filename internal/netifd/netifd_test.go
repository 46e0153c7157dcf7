package netifd

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
				Gateway: netip.MustParseAddr("198.18.2.1"), DNS: addrs("198.18.2.53", "198.18.2.54"), Addrs: prefixes("198.18.2.20/32"),
				Addrs6: prefixes("fe80::1c2d:3e4f:5a6b:7c8d/128")},
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
			// The IPv6 default route is the IPv6 side's, and so is the
			// IPv6 DNS server; of two IPv4
			// default routes the lower metric wins; a /24 route is no
			// default route.
			name: "4g qmi",
			file: "wwan_qmi.json",
			want: Interface{Name: "wan", Up: true, Proto: "qmi", Device: "wwan0",
				Gateway: netip.MustParseAddr("198.18.4.73"), DNS: addrs("2001:db8:4::53", "198.18.4.53", "198.18.4.54"), Addrs: prefixes("198.18.4.77/29"),
				Default6: true, Gateway6: netip.MustParseAddr("2001:db8:4::1"), Addrs6: prefixes("2001:db8:4::77/128")},
		},
		{
			name: "minimal up, no routes, odd dns entries skipped",
			json: `{"up": true, "l3_device": "eth0.2", "dns-server": ["", "banana", "fe80::1%eth0", "fe80::53", "::", "::ffff:198.18.9.8", "198.18.9.9"], "future-key": {"x": [1]}}`,
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
			want: Interface{Name: "wan", Up: true, Device: "eth1", Default6: true, Gateway6: netip.MustParseAddr("fe80::1")},
		},
		{
			// OpenWrt's wan6: DHCPv6 with prefix delegation, source-specific
			// default routes via the link-local router.
			name: "dhcpv6 wan6",
			file: "wan6_dhcpv6.json",
			want: Interface{Name: "wan", Up: true, Proto: "dhcpv6", Device: "eth1", Default6: true, Gateway6: netip.MustParseAddr("fe80::1"),
				DNS: addrs("2001:db8::53"), Addrs6: prefixes("2001:db8:0:1::1a2b/128", "2001:db8:0:1:21a:2bff:fe3c:4d5e/64")},
		},
		{
			name: "ipv6 device default route",
			json: `{"up": true, "l3_device": "pppoe-wan", "inactive": {"route": [{"target": "::", "mask": 0, "nexthop": "::", "source": "::/0"}]}}`,
			want: Interface{Name: "wan", Up: true, Device: "pppoe-wan", Default6: true},
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
		{"ipv4 nexthop on ipv6 route", `{"up": true, "route": [{"target": "::", "mask": 0, "nexthop": "198.18.1.1"}]}`, "nexthop '198.18.1.1' is not an IPv6 address"},
		{"zoned ipv6 nexthop", `{"up": true, "route": [{"target": "::", "mask": 0, "nexthop": "fe80::1%eth1"}]}`, "nexthop 'fe80::1%eth1'"},
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
