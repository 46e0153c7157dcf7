package fwzone

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestZones(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "firewall")
	os.WriteFile(path, []byte(`config zone
	option name 'lan'
	list network 'lan'
config zone
	option name 'wan'
	list network 'wan'
	list network 'wan6 wwan'
	option masq '1'
	option masq6 'yes'
config zone
	option name 'off'
	option enabled '0'
	list network 'wanb6'
	option masq6 '1'
config zone
	list network 'wanb'
	option masq6 '1'
`), 0o644)
	zones, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(zones) != 2 {
		t.Fatalf("zones %+v, want lan and wan (disabled and nameless ones left out)", zones)
	}
	for _, tt := range []struct {
		iface6, wan string
		masq6       bool
		n           int
	}{
		{"wan6", "wan", true, 1},
		{"wwan_6", "wwan", true, 1}, // netifd's dynamic interface: its parent's zone
		{"wanb6", "wanb", false, 0}, // only in disabled or nameless zones
		{"lte6", "wan", true, 1},    // the WAN's own interface carries both
	} {
		in := Side6(zones, tt.iface6, tt.wan)
		if len(in) != tt.n || AnyMasq6(in) != tt.masq6 {
			t.Errorf("%s/%s: zones %+v", tt.iface6, tt.wan, in)
		}
	}
	if !AnyMasq(Of(zones, "wan")) || AnyMasq(Of(zones, "lan")) {
		t.Error("masq")
	}
	if _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
