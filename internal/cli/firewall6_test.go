package cli

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/uciconf"
)

func TestMasq6Warnings(t *testing.T) {
	warn := func(wan, iface string) string {
		return "wanlb." + wan + ".ipv6: warning: interface '" + iface + "' (the IPv6 side) is in no firewall zone with IPv6 masquerading (option masq6 '1'); " +
			"with ipv6_mode 'translated' its IPv6 connections would leave with other networks' addresses (ignore this if NPTv6 translates them; " +
			"set option ipv6 'off' for a WAN without IPv6)"
	}
	tests := []struct {
		name, dir, uci string
		want           []string
	}{
		// OpenWrt's shipped file: the wan zone masquerades IPv4 only.
		{name: "shipped config lacks masq6", dir: "default", uci: "config wan 'wan'\n", want: []string{warn("wan", "wan6")}},
		{name: "routed mode needs none", dir: "default", uci: "config globals 'globals'\n\toption ipv6_mode 'routed'\nconfig wan 'wan'\n"},
		{name: "ipv6 off needs none", dir: "default", uci: "config wan 'wan'\n\toption ipv6 'off'\n"},
		{name: "disabled wan needs none", dir: "default", uci: "config wan 'wan'\n\toption enabled '0'\n"},
		{name: "masq6 on the wan zone", dir: "masq6", uci: "config wan 'wan'\nconfig wan 'wanb'\n"},
		{name: "a zone without masq6", dir: "masq6", uci: "config wan 'wan'\nconfig wan 'lte'\n\toption interface6 'lte_6'\n",
			want: []string{warn("lte", "lte_6")}},
		// lte's default IPv6 side lte6 is in no zone: lte's own zone counts.
		{name: "IPv6 side in no zone: the WAN's zone", dir: "masq6", uci: "config wan 'lte'\n", want: []string{warn("lte", "lte6")}},
		{name: "dynamic interface follows its parent", dir: "masq6", uci: "config wan 'wanb'\n\toption interface6 'wanb_6'\n"},
		{name: "in no zone at all: left to the IPv4 check", dir: "masq6", uci: "config wan 'wanc'\n"},
		{name: "no firewall file", dir: "", uci: "config wan 'wan'\n"},
		{name: "unreadable file: said elsewhere", dir: "broken", uci: "config wan 'wan'\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := uciconf.Parse(strings.NewReader(tc.uci))
			if err != nil {
				t.Fatal(err)
			}
			c, ps := config.FromUCI(f)
			if c == nil {
				t.Fatalf("config: %v", ps)
			}
			dir := t.TempDir()
			if tc.dir != "" {
				dir = filepath.Join("testdata", "firewall", tc.dir)
			}
			if got := masq6Warnings(dir, c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("masq6Warnings =\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}
