package daemon

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/wanlb/wanlb/internal/prefix6"
)

// fakePrefixes is a LAN device holding one address from each WAN's
// prefix; SetPreferred changes it.
type fakePrefixes struct {
	mu    sync.Mutex
	addrs []prefix6.Addr
	skip  []string // the devices the daemon asked to skip
}

func (f *fakePrefixes) Addrs(skip func(string) bool) ([]prefix6.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.skip = f.skip[:0]
	for _, d := range []string{"wan1", "wan1v6", "wan2", "wan2v6", "br-lan"} {
		if skip(d) {
			f.skip = append(f.skip, d)
		}
	}
	return append([]prefix6.Addr(nil), f.addrs...), nil
}

func (f *fakePrefixes) SetPreferred(a prefix6.Addr, p uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.addrs {
		if f.addrs[i].Prefix == a.Prefix {
			f.addrs[i].Preferred = p
		}
	}
	return nil
}

func (f *fakePrefixes) preferred() []uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []uint32{f.addrs[0].Preferred, f.addrs[1].Preferred}
}

// Routed mode: a WAN whose IPv6 side dies has its prefix's LAN address
// deprecated (preferred lifetime 0), given back on recovery and when the
// daemon stops; the other prefix is left alone.
func TestLoopRoutedDeprecatesDeadPrefix(t *testing.T) {
	fp := &fakePrefixes{addrs: []prefix6.Addr{
		{Dev: "br-lan", Prefix: netip.MustParsePrefix("2001:db8:31::1/64"), Preferred: prefix6.Forever, Valid: prefix6.Forever, Out: "wan1v6"},
		{Dev: "br-lan", Prefix: netip.MustParsePrefix("2001:db8:32::1/64"), Preferred: 3600, Valid: 7200, Out: "wan2v6"},
	}}
	h := startDaemon(t, "config globals 'globals'\n\toption ipv6_mode 'routed'\n\n"+dualWANs, func(_ *harness, k *Kernel) { k.Prefixes = fp })
	h.eventually("both IPv6 sides probed", func() bool { return len(h.d.sidesSnapshot()) == 4 })
	if p := fp.preferred(); p[0] != prefix6.Forever || p[1] != 3600 {
		t.Fatalf("with both WANs up the lifetimes changed: %v", p)
	}
	h.pr.kill("wan1v6", true)
	h.eventually("wan1's prefix deprecated", func() bool { return fp.preferred()[0] == 0 })
	if p := fp.preferred(); p[1] != 3600 {
		t.Errorf("wan2's prefix changed: %v", p)
	}
	fp.mu.Lock()
	skipped := len(fp.skip)
	fp.mu.Unlock()
	if skipped != 4 {
		t.Errorf("skipped devices %v, want the four WAN devices", fp.skip)
	}
	h.pr.kill("wan1v6", false)
	h.eventually("wan1's prefix preferred again", func() bool { return fp.preferred()[0] == prefix6.Forever })

	h.pr.kill("wan2v6", true)
	h.eventually("wan2's prefix deprecated", func() bool { return fp.preferred()[1] == 0 })
	h.stop()
	<-h.done
	h.done <- nil // for the cleanup
	if p := fp.preferred(); p[1] == 0 || p[1] > 3600 {
		t.Errorf("after stop wan2's prefix has preferred %d, want it back (at most 3600)", p[1])
	}
}
