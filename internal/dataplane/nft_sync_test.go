package dataplane

import (
	"slices"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/plan"
)

// rulesPlan is three WANs and policy rules; down lists the WANs that are
// offline (left out of the groups, as Compute does), extra adds a rule.
func rulesPlan(extra bool, down ...string) *plan.Plan {
	up := func(names ...string) []plan.Member {
		var ms []plan.Member
		for _, n := range names {
			if !slices.Contains(down, n) {
				ms = append(ms, mem(n, 1))
			}
		}
		for i := range ms {
			ms[i].Share = 1 / float64(len(ms))
		}
		return ms
	}
	group := func(names ...string) plan.Group {
		if ms := up(names...); len(ms) > 0 {
			return balanced(ms...)
		}
		return plan.Group{Action: plan.Blackhole}
	}
	p := &plan.Plan{Enabled: true, MarkMask: 0x3f000000,
		WANs:    []plan.WAN{wan("wan", 1, "wan1", "198.18.11.1"), wan("wanb", 2, "wan2", "198.18.12.1"), wan("lte", 3, "wwan0", "")},
		Default: group("wan", "wanb", "lte")}
	for i, set := range [][]string{{"wanb"}, {"wan", "lte"}, {"wanb"}, {"lte"}} {
		r := config.Rule{ID: "r" + string(rune('a'+i)), Proto: config.ProtoTCP, WANs: set,
			DestPort: []config.PortRange{{From: uint16(1000 + i), To: uint16(1000 + i)}}}
		p.Rules = append(p.Rules, plan.RuleGroup{Rule: r, Group: group(set...)})
	}
	if extra {
		r := config.Rule{ID: "extra", Proto: config.ProtoUDP, WANs: []string{"wan", "wanb"}}
		p.Rules = append(p.Rules, plan.RuleGroup{Rule: r, Group: group("wan", "wanb")})
	}
	return p
}

// fresh is the table a full apply of p leaves in a new kernel.
func fresh(t *testing.T, p *plan.Plan) string {
	t.Helper()
	nft, _, dp := newNFTFakes()
	if _, err := dp.Apply(p); err != nil {
		t.Fatal(err)
	}
	return nft.dump()
}

// TestNFTIncremental: after the first (full) apply, a WAN going down or up
// or a weight change re-sends only the chains that changed, in one
// transaction; a change of the chains themselves (a rule or a WAN added or
// removed) replaces the table. Either way the kernel holds exactly the
// table a full apply would.
func TestNFTIncremental(t *testing.T) {
	weights := rulesPlan(false)
	weights.Default = balanced(mem("wan", 0.5), mem("wanb", 0.25), mem("lte", 0.25))
	for _, tc := range []struct {
		name     string
		from, to *plan.Plan
		sent     []string // chains the transaction flushes and refills; nil: full sync
	}{
		{"wan down", rulesPlan(false), rulesPlan(false, "wanb"), []string{"group0", "default"}},
		{"wan back", rulesPlan(false, "wanb"), rulesPlan(false), []string{"group0", "default"}},
		{"two down", rulesPlan(false), rulesPlan(false, "wan", "lte"), []string{"group2", "group4", "default"}},
		{"weights", rulesPlan(false), weights, []string{"default"}},
		{"rule added", rulesPlan(false), rulesPlan(true), nil},
		{"rule removed", rulesPlan(true), rulesPlan(false), nil},
		{"wan removed", rulesPlan(false), twoWANs(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nft, _, dp := newNFTFakes()
			if _, err := dp.Apply(tc.from); err != nil {
				t.Fatal(err)
			}
			n := nft.runs
			res, err := dp.Apply(tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if nft.runs-n != 1 {
				t.Fatalf("%d nft runs, want 1", nft.runs-n)
			}
			tx := nft.log[len(nft.log)-1]
			if full := strings.HasPrefix(tx, "add table inet wanlb\ndelete table inet wanlb\n"); full != (tc.sent == nil) {
				t.Fatalf("full sync %v, want %v:\n%s", full, tc.sent == nil, tx)
			}
			if tc.sent != nil {
				var sent []string
				for _, l := range strings.Split(tx, "\n") {
					if name, ok := strings.CutPrefix(l, "flush chain inet wanlb "); ok {
						sent = append(sent, name)
					} else if l != "" && !strings.HasPrefix(l, "add rule inet wanlb ") {
						t.Errorf("unexpected command %q", l)
					}
				}
				if !slices.Equal(sent, tc.sent) {
					t.Errorf("re-sent %v, want %v:\n%s", sent, tc.sent, tx)
				}
			}
			if got, want := nft.dump(), fresh(t, tc.to); got != want {
				t.Fatalf("table after the apply:\n%s\nafter a full one:\n%s", got, want)
			}
			if !dp.Intact(res.Desired) {
				t.Fatal("not intact after the apply")
			}
		})
	}
}

// TestNFTFullSyncWhenAsked: the first apply, a requested full sync (the
// repair) and the apply after a failure replace the whole table.
func TestNFTFullSyncWhenAsked(t *testing.T) {
	nft, _, dp := newNFTFakes()
	full := func(what string) {
		t.Helper()
		if tx := nft.log[len(nft.log)-1]; !strings.HasPrefix(tx, "add table inet wanlb\ndelete table inet wanlb\n") {
			t.Fatalf("%s: not a full sync:\n%s", what, tx)
		}
	}
	if _, err := dp.Apply(rulesPlan(false)); err != nil {
		t.Fatal(err)
	}
	full("first apply")
	dp.RequestFullSync()
	if _, err := dp.Apply(rulesPlan(false)); err != nil {
		t.Fatal(err)
	}
	full("requested")
	nft.failOn = "flush chain"
	if _, err := dp.Apply(rulesPlan(false, "lte")); err == nil {
		t.Fatal("failed transaction reported success")
	}
	nft.failOn = ""
	if _, err := dp.Apply(rulesPlan(false, "lte")); err != nil {
		t.Fatal(err)
	}
	full("after a failure")
	if got, want := nft.dump(), fresh(t, rulesPlan(false, "lte")); got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
}

// twoWANs is rulesPlan without lte.
func twoWANs() *plan.Plan {
	p := rulesPlan(false, "lte")
	p.WANs = p.WANs[:2]
	return p
}

// TestNFTDeltaFallsBack: changes an incremental transaction cannot express
// safely ask for the full one.
func TestNFTDeltaFallsBack(t *testing.T) {
	base := []nftChain{{Name: "pre", Hook: "type filter hook prerouting priority mangle; policy accept;", Rules: []string{"return"}}, {Name: "x", Rules: []string{"return"}}}
	hook := []nftChain{{Name: "pre", Hook: "type filter hook prerouting priority raw; policy accept;", Rules: []string{"return"}}, base[1]}
	if _, ok := nftDelta(base, hook); ok {
		t.Error("a hook change went incremental")
	}
	if _, ok := nftDelta(base, base[1:]); ok {
		t.Error("a chain's removal went incremental")
	}
	renamed := []nftChain{base[0], {Name: "y", Rules: []string{"return"}}}
	if _, ok := nftDelta(base, renamed); ok {
		t.Error("a chain's replacement went incremental")
	}
	if tx, ok := nftDelta(base, base); !ok || len(tx) != 0 {
		t.Errorf("no change: %q %v", tx, ok)
	}
	if _, err := parseNFT([]byte("table inet wanlb {\n\tbogus\n}\n")); err == nil {
		t.Error("parseNFT took a line it does not know")
	}
}
