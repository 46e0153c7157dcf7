package dataplane

import (
	"flag"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/plan"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func wan(name string, mark uint32, dev, gw string) plan.WAN {
	w := plan.WAN{Name: name, Mark: mark, Device: dev, Usable: true, Active: true}
	if gw != "" {
		w.Gateway = netip.MustParseAddr(gw)
	}
	return w
}

func mem(name string, share float64) plan.Member { return plan.Member{WAN: name, Share: share} }

func withDNS(w plan.WAN, dns ...string) plan.WAN {
	for _, d := range dns {
		w.DNS = append(w.DNS, netip.MustParseAddr(d))
	}
	return w
}

func balanced(ms ...plan.Member) plan.Group { return plan.Group{Action: plan.Balance, Members: ms} }

// hashed is a balanced group with the plan's hash bucket assignment, as
// Compute makes it under Application Optimized Routing.
func hashed(ms ...plan.Member) plan.Group {
	g := balanced(ms...)
	g.Buckets = plan.HashBuckets(ms)
	return g
}

// plans is a sequence a router might go through.
var plans = []struct {
	name string
	p    *plan.Plan
}{
	{"two-wans-3to1", &plan.Plan{Enabled: true, MarkMask: 0x3f000000,
		WANs:    []plan.WAN{wan("wan", 1, "wan1", "198.18.11.1"), wan("wanb", 2, "wan2", "198.18.12.1")},
		Default: balanced(mem("wan", 0.75), mem("wanb", 0.25))}},
	{"three-wans-rules", &plan.Plan{Enabled: true, MarkMask: 0x3f000000,
		// lte reports one of wanb's resolvers too: pinned to wanb, the first.
		WANs: []plan.WAN{wan("wan", 1, "wan1", "198.18.11.1"), withDNS(wan("wanb", 2, "wan2", "198.18.12.1"), "198.18.200.53", "198.18.200.54"),
			withDNS(wan("lte", 3, "wwan0", ""), "198.18.200.54", "198.18.201.53")},
		Default: balanced(mem("wan", 0.5), mem("wanb", 0.25), mem("lte", 0.25)),
		Rules: []plan.RuleGroup{
			{Rule: config.Rule{ID: "voip", Proto: config.ProtoUDP, DestPort: []config.PortRange{{From: 5060, To: 5061}, {From: 10000, To: 20000}}}, Group: balanced(mem("wanb", 1))},
			{Rule: config.Rule{ID: "@rule[1]", Proto: config.ProtoTCPUDP,
				SrcIP:  []config.AddrMatch{{Prefix: netip.MustParsePrefix("198.18.1.0/28")}, {From: netip.MustParseAddr("198.18.1.100"), To: netip.MustParseAddr("198.18.1.120")}},
				DestIP: []config.AddrMatch{{Prefix: netip.MustParsePrefix("198.19.0.1/32")}}}, Group: plan.Group{Action: plan.Blackhole}},
			{Rule: config.Rule{ID: "@rule[2]", Proto: config.ProtoICMP}, Group: plan.Group{Action: plan.Main}},
		}}},
	{"wan-offline", &plan.Plan{Enabled: true, MarkMask: 0x3f000000,
		WANs:    []plan.WAN{wan("wan", 1, "wan1", "198.18.11.1"), wan("wanb", 2, "wan2", "198.18.12.1"), wan("lte", 3, "wwan0", "")},
		Default: balanced(mem("wanb", 0.5), mem("lte", 0.5))}},
	{"app-optimized", &plan.Plan{Enabled: true, MarkMask: 0x3f000000, AppOptimized: true,
		WANs:    []plan.WAN{wan("wan", 1, "wan1", "198.18.11.1"), wan("wanb", 2, "wan2", "198.18.12.1")},
		Default: hashed(mem("wan", 0.5), mem("wanb", 0.5))}},
	{"last-resort-unreachable", &plan.Plan{Enabled: true, MarkMask: 0xf0000000,
		WANs:    []plan.WAN{wan("wan", 1, "wan1", "198.18.11.1")},
		Default: plan.Group{Action: plan.Unreachable}}},
	// Dual stack: wan has both families on one device, wanb's IPv6 side
	// is its own device with a link-local gateway and a resolver of each
	// family, lte has IPv4 only.
	{"dual-stack", &plan.Plan{Enabled: true, MarkMask: 0x3f000000,
		WANs: []plan.WAN{with6(wan("wan", 1, "wan1", "198.18.11.1"), "wan1", "2001:db8:11::1"),
			withDNS(with6(wan("wanb", 2, "wan2", "198.18.12.1"), "pppoe-wanb", "fe80::1"), "198.18.200.53", "2001:db8:200::53"),
			withDNS(wan("lte", 3, "wwan0", ""), "2001:db8:300::53")}, // no IPv6 side: its IPv6 resolver is not pinned
		Default:  balanced(mem("wan", 0.5), mem("wanb", 0.25), mem("lte", 0.25)),
		Default6: balanced(mem("wan", 0.75), mem("wanb", 0.25)),
		Rules: []plan.RuleGroup{
			{Rule: config.Rule{ID: "v6only", SrcIP: []config.AddrMatch{{Prefix: netip.MustParsePrefix("fd00:1::/64")},
				{From: netip.MustParseAddr("fd00:2::10"), To: netip.MustParseAddr("fd00:2::20")}},
				DestIP: []config.AddrMatch{{Prefix: netip.MustParsePrefix("2001:db8:99::1/128")}}},
				Group: plan.Group{Action: plan.Main}, Group6: balanced(mem("wanb", 1))},
			{Rule: config.Rule{ID: "v4only", DestIP: []config.AddrMatch{{Prefix: netip.MustParsePrefix("198.19.0.0/16")}}},
				Group: balanced(mem("lte", 1)), Group6: plan.Group{Action: plan.Blackhole}},
			{Rule: config.Rule{ID: "ping", Proto: config.ProtoICMP}, Group: balanced(mem("wan", 1)), Group6: balanced(mem("wan", 1))},
			{Rule: config.Rule{ID: "web", Proto: config.ProtoTCP, DestPort: []config.PortRange{{From: 443, To: 443}}},
				Group: balanced(mem("lte", 1)), Group6: plan.Group{Action: plan.Unreachable}},
		}}},
	{"dual-stack-app-optimized", &plan.Plan{Enabled: true, MarkMask: 0x3f000000, AppOptimized: true,
		WANs: []plan.WAN{with6(wan("wan", 1, "wan1", "198.18.11.1"), "wan1", "2001:db8:11::1"),
			with6(wan("wanb", 2, "wan2", "198.18.12.1"), "wan2", "")},
		Default:  hashed(mem("wan", 0.5), mem("wanb", 0.5)),
		Default6: hashed(mem("wan", 0.5), mem("wanb", 0.5))}},
}

// with6 gives a WAN an IPv6 side (gw "": a device route).
func with6(w plan.WAN, dev, gw string) plan.WAN {
	w.Has6, w.Device6 = true, dev
	if gw != "" {
		w.Gateway6 = netip.MustParseAddr(gw)
	}
	return w
}

func newFakes() (*fakeFirewall, *fakeRouting, *DataPlane) {
	fw := newFakeFirewall()
	// Someone else's chain, jump, rule and table: must survive everything.
	fw.chains["PREROUTING"] = []string{"-j other_chain"}
	fw.chains["other_chain"] = []string{"-j MARK --set-xmark 0x80000/0xff0000"}
	fw.v6 = newFakeFirewall()
	fw.v6.chains["PREROUTING"] = []string{"-j other6"}
	fw.v6.chains["other6"] = []string{"-j MARK --set-xmark 0x80000/0xff0000"}
	rt := &fakeRouting{
		rules:  []IPRule{{Priority: 5270, Table: 52}, {Priority: 32766, Table: tableMain}, {Priority: 32766, Table: tableMain, V6: true}},
		routes: []Route{{Table: 52, Device: "tailscale0"}, {Table: 52, Device: "tailscale0", V6: true}},
	}
	return fw, rt, New(NewIPTablesRuleset(fw, fw.v6), rt, fakeSysctl{})
}

func TestStates(t *testing.T) {
	fw, rt, dp := newFakes()
	want := map[string]string{}
	for _, tc := range plans {
		if _, err := dp.Apply(tc.p); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		state := fw.dump() + "\n# ip6tables\n" + fw.v6.dump() + "\n" + rt.dump()
		golden(t, tc.name, state)
		want[tc.name] = state
	}
	// Kernel state must depend on the plan only, never on the way there:
	// replay every transition in random orders.
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 50; i++ {
		tc := plans[rng.Intn(len(plans))]
		if _, err := dp.Apply(tc.p); err != nil {
			t.Fatalf("replay %s: %v", tc.name, err)
		}
		if got := fw.dump() + "\n# ip6tables\n" + fw.v6.dump() + "\n" + rt.dump(); got != want[tc.name] {
			t.Fatalf("replay %d to %s: state differs from the direct apply:\n%s", i, tc.name, got)
		}
	}
}

func TestApplyTwiceChangesNothing(t *testing.T) {
	fw, rt, dp := newFakes()
	for _, tc := range plans {
		if _, err := dp.Apply(tc.p); err != nil {
			t.Fatal(err)
		}
		before, calls := fw.execs, rt.calls
		res, err := dp.Apply(tc.p)
		if err != nil {
			t.Fatal(err)
		}
		if res.Changed() || fw.execs != before {
			t.Errorf("%s: second apply changed %+v, spawned %d processes", tc.name, res, fw.execs-before)
		}
		if rt.calls-calls != 2 { // one rule dump, one route dump
			t.Errorf("%s: second apply made %d netlink calls, want only the 2 dumps", tc.name, rt.calls-calls)
		}
	}
}

func TestOneRestorePerApply(t *testing.T) {
	fw, _, dp := newFakes()
	for _, tc := range plans {
		n := fw.restores
		if _, err := dp.Apply(tc.p); err != nil {
			t.Fatal(err)
		}
		if fw.restores-n != 1 {
			t.Errorf("%s: %d iptables-restore runs, want 1", tc.name, fw.restores-n)
		}
	}
}

func TestFlushLeavesOnlyOthers(t *testing.T) {
	fw, rt, dp := newFakes()
	before := fw.dump() + fw.v6.dump() + rt.dump()
	for _, tc := range plans {
		if _, err := dp.Apply(tc.p); err != nil {
			t.Fatal(err)
		}
	}
	// A fresh DataPlane (a new process) must find everything by itself.
	if err := New(NewIPTablesRuleset(fw, fw.v6), rt, fakeSysctl{}).Flush(); err != nil {
		t.Fatal(err)
	}
	if after := fw.dump() + fw.v6.dump() + rt.dump(); after != before {
		t.Fatalf("flush left:\n%s\nwant:\n%s", after, before)
	}
	// Disabling wanlb in the config flushes too.
	if _, err := dp.Apply(plans[0].p); err != nil {
		t.Fatal(err)
	}
	if _, err := dp.Apply(&plan.Plan{Enabled: false}); err != nil {
		t.Fatal(err)
	}
	if after := fw.dump() + fw.v6.dump() + rt.dump(); after != before {
		t.Fatalf("disabled plan left:\n%s", after)
	}
}

func TestFailedRestoreKeepsOldStateAndResyncs(t *testing.T) {
	fw, _, dp := newFakes()
	if _, err := dp.Apply(plans[0].p); err != nil {
		t.Fatal(err)
	}
	good := fw.dump()
	fw.failOn = "-A wanlb_pre"
	if _, err := dp.Apply(plans[2].p); err == nil {
		t.Fatal("apply succeeded although restore failed")
	}
	if fw.dump() != good {
		t.Fatal("a failed transaction changed the chains")
	}
	fw.failOn = ""
	n := fw.restores
	if _, err := dp.Apply(plans[0].p); err != nil {
		t.Fatal(err)
	}
	if fw.restores == n {
		t.Fatal("after a failure the same plan must be re-applied in full")
	}
}

func TestRepairAfterForeignFlush(t *testing.T) {
	fw, _, dp := newFakes()
	if _, err := dp.Apply(plans[0].p); err != nil {
		t.Fatal(err)
	}
	want := fw.dump()
	// A firewall restart empties the table.
	fw.chains = newFakeFirewall().chains
	dp.RequestFullSync()
	if _, err := dp.Apply(plans[0].p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fw.dump(), "-A PREROUTING -m comment --comment wanlb -j wanlb_pre") || len(fw.chains) != len(newFakeFirewall().chains)+5 {
		t.Fatalf("not repaired:\n%s\nwant like:\n%s", fw.dump(), want)
	}
}

func TestRenderRejectsUnsafeValues(t *testing.T) {
	bad := []*plan.Plan{
		{Enabled: true, MarkMask: 0x3f000000, WANs: []plan.WAN{wan("wan", 1, "eth0 -j DROP", "")}},
		{Enabled: true, MarkMask: 0x3f000000, WANs: []plan.WAN{wan("wan", 1, "eth+", "")}},
		{Enabled: true, MarkMask: 0x3f000000, WANs: []plan.WAN{wan("wan", 62, "eth0", "")}},
		{Enabled: true, MarkMask: 0xff00, WANs: []plan.WAN{wan("wan", 1, "eth0", "")}},
		{Enabled: true, MarkMask: 0x3f000000, WANs: []plan.WAN{wan("wan", 1, "eth0", "")},
			Rules: []plan.RuleGroup{{Rule: config.Rule{ID: "x\" -j DROP"}, Group: plan.Group{Action: plan.Main}}}},
	}
	for i, p := range bad {
		if _, err := Render(p); err == nil {
			t.Errorf("plan %d rendered", i)
		}
	}
}

func TestPortMatchesSplitAtFifteenSlots(t *testing.T) {
	var ports []config.PortRange
	for i := 1; i <= 10; i++ {
		ports = append(ports, config.PortRange{From: uint16(i * 100), To: uint16(i*100 + 5)}) // 2 slots each
	}
	got := portMatches(ports, "--dports")
	if len(got) != 2 || strings.Count(got[0], ",") != 6 {
		t.Fatalf("got %q", got)
	}
}

func TestSetChainNamesFit(t *testing.T) {
	for _, wan := range []string{"wan", "abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012346"} {
		if n := setChain(wan); len(n) > 28 || !strings.HasPrefix(n, ChainPrefix) {
			t.Errorf("%s -> %q", wan, n)
		}
	}
	if setChain("abcdefghijklmnopqrstuvwxyz012345") == setChain("abcdefghijklmnopqrstuvwxyz012346") {
		t.Error("long names collide")
	}
}

// Versions before the resolvers were pinned by mark pinned them with ip
// rules at 6010: the first apply after an upgrade deletes them (they are
// in wanlb's range and point at its tables), and nobody else's.
func TestOldDNSRulesDeleted(t *testing.T) {
	_, rt, dp := newFakes()
	old := IPRule{Priority: 6010, Dst: netip.MustParsePrefix("198.18.200.53/32"), Table: 3002}
	old6 := IPRule{Priority: 6010, Dst: netip.MustParsePrefix("2001:db8:200::53/128"), Table: 3002, V6: true}
	rt.rules = append(rt.rules, old, old6)
	if _, err := dp.Apply(plans[0].p); err != nil {
		t.Fatal(err)
	}
	for _, r := range rt.rules {
		if r.Priority == 6010 {
			t.Errorf("old DNS rule left: %v", r)
		}
	}
	if !slices.ContainsFunc(rt.rules, func(r IPRule) bool { return r.Priority == 5270 && r.Table == 52 }) {
		t.Errorf("someone else's rule deleted: %v", rt.rules)
	}
}
