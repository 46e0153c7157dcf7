package dataplane

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/plan"
)

func newNFTFakes() (*fakeNFT, *fakeRouting, *DataPlane) {
	nft := newFakeNFT()
	rt := &fakeRouting{
		rules:  []IPRule{{Priority: 5270, Table: 52}, {Priority: 32766, Table: tableMain}},
		routes: []Route{{Table: 52, Device: "tailscale0"}},
	}
	return nft, rt, New(NewNFTRuleset(nft, nft), rt, fakeSysctl{})
}

// TestNFTRender keeps the rendered transaction of every plan as a golden
// file, and checks the fake kernel ends up holding exactly that table
// (beside fw4's), whatever order the plans come in.
func TestNFTRender(t *testing.T) {
	nft, rt, dp := newNFTFakes()
	want, routes := map[string]string{}, map[string]string{}
	for _, tc := range plans {
		text, err := RenderNFT(tc.p)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		golden(t, "nft-"+tc.name, string(text))
		if _, err := dp.Apply(tc.p); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		state := nft.dump()
		if !strings.Contains(state, "table inet fw4 {\n\tchain mangle_prerouting {") {
			t.Fatalf("%s: fw4's table was touched:\n%s", tc.name, state)
		}
		// Applied after others, the same table as a full apply of the
		// plan in a new kernel.
		want[tc.name], routes[tc.name] = fresh(t, tc.p), rt.dump()
		if state != want[tc.name] {
			t.Fatalf("%s: table differs from a direct apply:\n%s\nwant:\n%s", tc.name, state, want[tc.name])
		}
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 50; i++ {
		tc := plans[rng.Intn(len(plans))]
		if _, err := dp.Apply(tc.p); err != nil {
			t.Fatalf("replay %s: %v", tc.name, err)
		}
		if got := nft.dump(); got != want[tc.name] {
			t.Fatalf("replay %d to %s: table differs from a direct apply:\n%s", i, tc.name, got)
		}
		if rt.dump() != routes[tc.name] {
			t.Fatalf("replay %d to %s: routing differs from the direct apply:\n%s", i, tc.name, rt.dump())
		}
	}
}

func TestNFTOneTransactionNothingWhenUnchanged(t *testing.T) {
	nft, _, dp := newNFTFakes()
	for _, tc := range plans {
		n := nft.runs
		res, err := dp.Apply(tc.p)
		if err != nil {
			t.Fatal(err)
		}
		if nft.runs-n != 1 || !res.Restored {
			t.Errorf("%s: %d nft runs, want 1", tc.name, nft.runs-n)
		}
		n = nft.runs
		if res, err = dp.Apply(tc.p); err != nil {
			t.Fatal(err)
		}
		if nft.runs != n || res.Changed() {
			t.Errorf("%s: the same plan again ran nft %d times, changed %+v", tc.name, nft.runs-n, res)
		}
	}
}

func TestNFTFlushLeavesOnlyOthers(t *testing.T) {
	nft, rt, dp := newNFTFakes()
	before := nft.dump() + rt.dump()
	for _, tc := range plans {
		if _, err := dp.Apply(tc.p); err != nil {
			t.Fatal(err)
		}
	}
	// A fresh DataPlane (`wanlb flush`, a new process) finds it by name.
	if err := New(NewNFTRuleset(nft, nft), rt, fakeSysctl{}).Flush(); err != nil {
		t.Fatal(err)
	}
	if after := nft.dump() + rt.dump(); after != before {
		t.Fatalf("flush left:\n%s\nwant:\n%s", after, before)
	}
	// Flushing when there is nothing is fine too.
	if err := dp.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := dp.Apply(plans[0].p); err != nil {
		t.Fatal(err)
	}
	if _, err := dp.Apply(&plan.Plan{Enabled: false}); err != nil {
		t.Fatal(err)
	}
	if after := nft.dump() + rt.dump(); after != before {
		t.Fatalf("disabled plan left:\n%s", after)
	}
}

func TestNFTFailedRunKeepsOldStateAndResyncs(t *testing.T) {
	nft, _, dp := newNFTFakes()
	if _, err := dp.Apply(plans[0].p); err != nil {
		t.Fatal(err)
	}
	good := nft.dump()
	nft.failOn = "lte"
	if _, err := dp.Apply(plans[2].p); err == nil {
		t.Fatal("apply succeeded although nft failed")
	}
	if nft.dump() != good {
		t.Fatal("a failed transaction changed the table")
	}
	nft.failOn = ""
	n := nft.runs
	if _, err := dp.Apply(plans[0].p); err != nil {
		t.Fatal(err)
	}
	if nft.runs == n {
		t.Fatal("after a failure the same plan must be applied again")
	}
}

// TestNFTIntact: fw4 reloading its own table is not a reason to repair;
// deleting or changing wanlb's table is, and a full apply restores it.
func TestNFTIntact(t *testing.T) {
	for _, tc := range []struct {
		name    string
		foreign string
		intact  bool
	}{
		{"fw4 reload", "add table inet fw4\ndelete table inet fw4\ntable inet fw4 {\nchain input {\ntype filter hook input priority filter; policy accept;\n}\n}\n", true},
		{"nft delete table inet wanlb", "delete table inet wanlb\n", false},
		{"fw4 flush (nft flush ruleset)", "delete table inet fw4\ndelete table inet wanlb\n", false},
		{"a chain flushed", "flush table inet wanlb\n", false},
		{"a rule added", "table inet wanlb {\nchain mine {\n}\n}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nft, _, dp := newNFTFakes()
			res, err := dp.Apply(plans[1].p)
			if err != nil {
				t.Fatal(err)
			}
			want := nft.dump()
			if !dp.Intact(res.Desired) {
				t.Fatal("not intact right after the apply")
			}
			if err := nft.foreign(tc.foreign); err != nil {
				t.Fatal(err)
			}
			if got := dp.Intact(res.Desired); got != tc.intact {
				t.Fatalf("intact %v, want %v", got, tc.intact)
			}
			if tc.intact {
				return
			}
			dp.RequestFullSync()
			if _, err := dp.Apply(plans[1].p); err != nil {
				t.Fatal(err)
			}
			got := nft.dump()
			if tc.name == "fw4 flush (nft flush ruleset)" {
				want = strings.Replace(want, "table inet fw4 {\n\tchain mangle_prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n\t\tmeta l4proto tcp counter\n\t}\n}\n", "", 1)
			}
			if got != want {
				t.Fatalf("not repaired:\n%s\nwant:\n%s", got, want)
			}
			if !dp.Intact(res.Desired) {
				t.Fatal("not intact after the repair")
			}
		})
	}
}

// TestNFTChangesIgnoresOwnCommits: the commit events of wanlb's own nft
// processes do not wake the repair check; everyone else's do.
func TestNFTChangesIgnoresOwnCommits(t *testing.T) {
	nft := newFakeNFT()
	r := NewNFTRuleset(nft, nft).(*nftRuleset)
	text, _ := RenderNFT(plans[0].p)
	if err := r.Sync(text, true); err != nil {
		t.Fatal(err)
	}
	r.committed(nft.pid)
	select {
	case <-r.Changes():
		t.Fatal("own commit reported as a change")
	default:
	}
	r.committed(nft.pid + 1)
	r.committed(0) // lost events
	select {
	case <-r.Changes():
	default:
		t.Fatal("foreign commit not reported")
	}
}

func TestShareCounts(t *testing.T) {
	for _, tc := range []struct {
		shares []float64
		n      int
		counts []int
	}{
		{[]float64{0.75, 0.25}, 4, []int{3, 1}},
		{[]float64{1.0 / 3, 1.0 / 3, 1.0 / 3}, 3, []int{1, 1, 1}},
		{[]float64{0.5, 0.25, 0.25}, 4, []int{2, 1, 1}},
		{[]float64{97.0 / 100, 3.0 / 100}, 100, []int{97, 3}},
		{[]float64{100.0 / 199, 99.0 / 199}, 199, []int{100, 99}},
		{[]float64{0.4, 0.3, 0.2, 0.1}, 10, []int{4, 3, 2, 1}},
		// Bandwidths with no small common total: 1/10000 steps.
		{[]float64{500000.0 / 520123, 20123.0 / 520123}, 10000, []int{9613, 387}},
		// A tiny share keeps one slot.
		{[]float64{0.99999, 0.00001}, 10000, []int{9999, 1}},
	} {
		var ms []plan.Member
		for i, s := range tc.shares {
			ms = append(ms, mem(string(rune('a'+i)), s))
		}
		n, counts := shareCounts(ms)
		if n != tc.n || !equalInts(counts, tc.counts) {
			t.Errorf("%v: mod %d %v, want mod %d %v", tc.shares, n, counts, tc.n, tc.counts)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBucketsFromThePlan: the renderers print the plan's bucket
// assignment as it is, and refuse one of the wrong size.
func TestBucketsFromThePlan(t *testing.T) {
	g := balanced(mem("wan", 0.5), mem("wanb", 0.5))
	g.Buckets = make([]string, plan.Buckets)
	for i := range g.Buckets {
		g.Buckets[i] = "wanb"
	}
	g.Buckets[3] = "wan"
	p := &plan.Plan{Enabled: true, MarkMask: 0x3f000000, AppOptimized: true,
		WANs: []plan.WAN{wan("wan", 1, "wan1", "198.18.11.1"), wan("wanb", 2, "wan2", "198.18.12.1")}, Default: g}
	text, err := RenderNFT(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "vmap { 0-2 : goto set_wanb, 3 : goto set_wan, 4-255 : goto set_wanb }") {
		t.Errorf("nft buckets not the plan's:\n%s", text)
	}
	d, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(d.Mangle), "-g "+setChain("wan")+"\n"); n != 1 {
		t.Errorf("iptables: %d buckets to wan, want 1:\n%s", n, d.Mangle)
	}
	p.Default.Buckets = p.Default.Buckets[:10]
	if _, err := RenderNFT(p); err == nil {
		t.Error("nft rendered 10 buckets")
	}
	if _, err := Render(p); err == nil {
		t.Error("iptables rendered 10 buckets")
	}
}

func TestRenderNFTRejectsUnsafeValues(t *testing.T) {
	bad := []*plan.Plan{
		{Enabled: true, MarkMask: 0x3f000000, WANs: []plan.WAN{wan("wan", 1, "eth0\" accept", "")}},
		{Enabled: true, MarkMask: 0x3f000000, WANs: []plan.WAN{wan("wan", 62, "eth0", "")}},
		{Enabled: true, MarkMask: 0x3f000000, WANs: []plan.WAN{wan("w { accept }", 1, "eth0", "")}},
		{Enabled: true, MarkMask: 0xff00, WANs: []plan.WAN{wan("wan", 1, "eth0", "")}},
		{Enabled: true, MarkMask: 0x3f000000, WANs: []plan.WAN{wan("wan", 1, "eth0", "")},
			Rules: []plan.RuleGroup{{Rule: config.Rule{ID: "x\" accept"}, Group: plan.Group{Action: plan.Main}}}},
	}
	for i, p := range bad {
		if _, err := RenderNFT(p); err == nil {
			t.Errorf("plan %d rendered", i)
		}
	}
}
