package netifd_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/netifd"
	"github.com/wanlb/wanlb/internal/openwrttest"
)

// TestStatusRealUbusd asks OpenWrt's real ubusd, on which the kit's
// netifd stand-in publishes network.interface.<name> answering with real
// netifd statuses (testdata): the native path must read each exactly as
// Parse reads the ubus CLI's JSON of it.
func TestStatusRealUbusd(t *testing.T) {
	ow := openwrttest.New(t)
	files := map[string]string{
		"wan": "dhcp_up.json", "wanb": "pppoe_ptp.json", "wwan": "wwan_qmi.json",
		"wanc": "down.json", "wand": "dhcp_nodefaultroute.json", "wane": "pppoe.json",
		"wan6": "wan6_dhcpv6.json",
	}
	var entries []map[string]any
	want := map[string]netifd.Interface{}
	for name, file := range files {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if want[name], err = netifd.Parse(name, b); err != nil {
			t.Fatal(err)
		}
		var e map[string]any
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		e["interface"] = name
		entries = append(entries, e)
	}
	// Not a netifd status, and one too large to be one.
	entries = append(entries, map[string]any{"interface": "garbage", "hello": 1},
		map[string]any{"interface": "huge", "up": true, "data": map[string]any{"x": strings.Repeat("x", 300<<10)}})
	dump, err := json.Marshal(map[string]any{"interface": entries})
	if err != nil {
		t.Fatal(err)
	}
	run := ow.Netifd(t, ow.Namespace(t), dump)
	// From here on, a lookup that still ran the ubus CLI (or anything
	// else) would fail: PATH is empty.
	t.Setenv("PATH", t.TempDir())
	c := netifd.Client{Socket: filepath.Join(run, "ubus", "ubus.sock"), Timeout: 10 * time.Second}
	if !netifd.Available(c.Socket) {
		t.Fatalf("Available(%s) = false with ubusd running", c.Socket)
	}
	ctx := context.Background()
	for name, w := range want {
		got, err := c.Status(ctx, name)
		if err != nil {
			t.Errorf("Status(%s): %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("Status(%s) =\n  %+v\nParse of the CLI's JSON =\n  %+v", name, got, w)
		}
	}
	for name, wantErr := range map[string]string{
		"nosuch":  "network.interface.nosuch status: no such netifd interface",
		"garbage": `no "up" key`,
		"huge":    "over the 262144-byte limit",
	} {
		_, err := c.Status(ctx, name)
		if err == nil || !strings.Contains(err.Error(), wantErr) || errors.Is(err, netifd.ErrNotFound) != (name == "nosuch") {
			t.Errorf("Status(%s): %v, want %q", name, err, wantErr)
		}
	}
}
