package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFirewallWarnings(t *testing.T) {
	noMasq := func(wan string) string {
		return "wanlb." + wan + ": warning: interface '" + wan + "' is in no firewall zone with masquerading (option masq '1'); its traffic would leave with LAN addresses"
	}
	noZone := func(wan string) string {
		return "wanlb." + wan + ": warning: interface '" + wan + "' is in no firewall zone; its traffic would leave with LAN addresses"
	}
	tests := []struct {
		name string
		dir  string // under testdata/firewall; "" for a directory without a firewall file
		wans []string
		want []string
	}{
		// OpenWrt's shipped file: wan zone with option network 'wan wan6' and masq 1.
		{name: "default config, wan", dir: "default", wans: []string{"wan"}},
		{name: "default config, wan6 from a space-separated option", dir: "default", wans: []string{"wan6"}},
		{name: "default config, second wan not added to any zone", dir: "default", wans: []string{"wan", "wanb"},
			want: []string{noZone("wanb")}},
		{name: "lan is in a zone without masq", dir: "default", wans: []string{"lan"},
			want: []string{noMasq("lan")}},
		// The wan zone as uci writes it, with wanb and wwan added to its list.
		{name: "second and third wan added to the wan zone list", dir: "multiwan", wans: []string{"wan", "wanb", "wwan"}},
		{name: "dynamic interfaces follow their parent's zone", dir: "multiwan", wans: []string{"wwan_4", "wan_6"}},
		{name: "dynamic interface of a parent in no zone", dir: "multiwan", wans: []string{"wanc_4"},
			want: []string{noZone("wanc_4")}},
		{name: "wan missing from every zone", dir: "multiwan", wans: []string{"wanc", "wan", "wand"},
			want: []string{noZone("wanc"), noZone("wand")}},
		{name: "own zone with masq 0", dir: "masq0", wans: []string{"wan", "wanc"},
			want: []string{noMasq("wanc")}},
		{name: "only in a disabled zone", dir: "masq0", wans: []string{"wand"},
			want: []string{noZone("wand")}},
		{name: "masq 'yes' counts", dir: "masq0", wans: []string{"wane"}},
		{name: "no firewall file", dir: "", wans: []string{"wan", "wanb"}},
		{name: "no wans", dir: "masq0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.dir != "" {
				dir = filepath.Join("testdata", "firewall", tc.dir)
			}
			got := firewallWarnings(dir, tc.wans)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("firewallWarnings(%s, %q) =\n  %q\nwant\n  %q", tc.dir, tc.wans, got, tc.want)
			}
		})
	}
}

func TestFirewallWarningsUnreadable(t *testing.T) {
	dirOfDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dirOfDir, "firewall"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, wantIn string
	}{
		{"parse error", filepath.Join("testdata", "firewall", "broken"), "line 4: unterminated quoted string"},
		{"not a regular file", dirOfDir, "not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := firewallWarnings(tc.dir, []string{"wan", "wanb"})
			if len(got) != 1 {
				t.Fatalf("firewallWarnings = %q, want exactly one warning", got)
			}
			if !strings.HasPrefix(got[0], "wanlb: warning: the firewall config could not be read") || !strings.Contains(got[0], tc.wantIn) {
				t.Errorf("warning %q does not say the firewall config could not be read (%s)", got[0], tc.wantIn)
			}
		})
	}
}
