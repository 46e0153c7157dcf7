package daemon

import (
	"net/netip"
	"testing"

	"github.com/wanlb/wanlb/internal/netifd"
)

// The IPv6 side of a WAN comes from netifd's '<section>6' interface (or
// interface6), follows its hotplug events, and gateway6 in the config
// wins over what netifd says.
func TestLoopIPv6Side(t *testing.T) {
	h := startDaemon(t, netifdWANs+"\toption gateway6 'fe80::99'\n", func(h *harness, k *Kernel) { k.Netifd = h.nf.Status })
	h.nf.set("wan1", "pppoe-wan1", "198.18.11.1", true)
	if err := h.client().Hotplug("ifup", "wan1"); err != nil {
		t.Fatal(err)
	}
	if w, ok := h.dp.Last().WAN("wan1"); !ok || w.Has6 {
		t.Fatalf("wan1 has an IPv6 side before netifd knows wan16: %+v", w)
	}
	// wan2's gateway6 is in the config: an IPv6 side on its IPv4 device.
	h.nf.set("wan2", "eth2", "198.18.12.1", true)
	if err := h.client().Hotplug("ifup", "wan2"); err != nil {
		t.Fatal(err)
	}
	h.eventually("wan2's IPv6 side from the config", func() bool {
		w, _ := h.dp.Last().WAN("wan2")
		return w.Has6 && w.Device6 == "wan2" && w.Gateway6 == netip.MustParseAddr("fe80::99")
	})

	set6 := func(up bool, gw string) {
		h.nf.mu.Lock()
		h.nf.ifaces["wan16"] = netifd.Interface{Name: "wan16", Up: up, Device: "pppoe-wan1", Default6: true, Gateway6: netip.MustParseAddr(gw)}
		h.nf.mu.Unlock()
	}
	set6(true, "fe80::1")
	if err := h.client().Hotplug("ifup", "wan16"); err != nil {
		t.Fatal(err)
	}
	h.eventually("wan1's IPv6 side after ifup wan16", func() bool {
		w, _ := h.dp.Last().WAN("wan1")
		return w.Has6 && w.Device6 == "pppoe-wan1" && w.Gateway6 == netip.MustParseAddr("fe80::1")
	})
	if g := h.dp.Last().Default6; len(g.Members) != 2 {
		t.Errorf("IPv6 default group %+v, want both WANs", g)
	}
	set6(false, "fe80::1")
	if err := h.client().Hotplug("ifdown", "wan16"); err != nil {
		t.Fatal(err)
	}
	h.eventually("wan1's IPv6 side gone after ifdown wan16", func() bool {
		w, _ := h.dp.Last().WAN("wan1")
		return !w.Has6
	})
}
