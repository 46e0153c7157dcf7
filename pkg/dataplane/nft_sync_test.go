package dataplane

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/pkg/config"
	"github.com/wanlb/wanlb/pkg/plan"
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
// and a rule added or removed re-send only the chains that changed, in one
// transaction, and leave exactly the table a full apply would.
func TestNFTIncremental(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to *plan.Plan
		sent     []string // chains the transaction must (re)fill
		deleted  []string
		addOnly  bool // nothing flushed or deleted: no grace period
	}{
		{"wan down", rulesPlan(false), rulesPlan(false, "wanb"), []string{"group0", "default"}, nil, true},
		{"wan back", rulesPlan(false, "wanb"), rulesPlan(false), []string{"group0", "default"}, nil, true},
		{"two down", rulesPlan(false), rulesPlan(false, "wan", "lte"), []string{"group1", "group2", "default"}, nil, true},
		{"rule added", rulesPlan(false), rulesPlan(true), []string{"group3", "decide"}, nil, false},
		{"rule removed", rulesPlan(true), rulesPlan(false), []string{"decide"}, []string{"group3"}, false},
		{"wan removed", rulesPlan(false), twoWANs(), []string{"pre", "out", "post", "group1", "group2", "default"}, []string{"restore_lte", "set_lte"}, false},
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
			if strings.Contains(tx, "delete table") {
				t.Fatalf("incremental change replaced the table:\n%s", tx)
			}
			sent, deleted := txChains(tx)
			if strings.Join(sent, " ") != strings.Join(tc.sent, " ") || strings.Join(deleted, " ") != strings.Join(tc.deleted, " ") {
				t.Errorf("sent %v deleted %v, want %v and %v:\n%s", sent, deleted, tc.sent, tc.deleted, tx)
			}
			if addOnly := !strings.Contains(tx, "flush") && !strings.Contains(tx, "delete"); addOnly != tc.addOnly {
				t.Errorf("add-only %v, want %v:\n%s", addOnly, tc.addOnly, tx)
			}
			if err := sameLive(nft.dump(), fresh(t, tc.to)); err != nil {
				t.Fatal(err)
			}
			if !dp.Intact(res.Desired) {
				t.Fatal("not intact after an incremental apply")
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
	nft.failOn = "insert rule"
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

// TestNFTDeadRulesBounded: a WAN flapping leaves at most maxDead
// unreachable rules in a chain; then the chain is flushed and refilled.
func TestNFTDeadRulesBounded(t *testing.T) {
	nft, _, dp := newNFTFakes()
	flushes := 0
	for i := range 20 {
		p := rulesPlan(false)
		if i%2 == 1 {
			p = rulesPlan(false, "wanb")
		}
		if _, err := dp.Apply(p); err != nil {
			t.Fatal(err)
		}
		if i > 0 && strings.Contains(nft.log[len(nft.log)-1], "flush chain") {
			flushes++
		}
		if err := sameLive(nft.dump(), fresh(t, p)); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	if flushes == 0 || flushes > 10 {
		t.Errorf("%d of 19 changes flushed", flushes)
	}
}

// twoWANs is rulesPlan without lte.
func twoWANs() *plan.Plan {
	p := rulesPlan(false, "lte")
	p.WANs = p.WANs[:2]
	return p
}

// txChains lists the chains a transaction fills and deletes.
func txChains(tx string) (sent, deleted []string) {
	for _, l := range strings.Split(tx, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && f[1] == "chain" && f[0] == "delete":
			deleted = append(deleted, f[4])
		case len(f) >= 5 && (f[1] == "chain" || f[1] == "rule") && !slices.Contains(sent, f[4]):
			sent = append(sent, f[4])
		}
	}
	return sent, deleted
}

// sameLive checks that got (a fake's dump) holds the chains of want and
// that each begins with want's rules; rules after them must be unreachable
// (want's last rule ends the chain) and at most maxDead.
func sameLive(got, want string) error {
	g, w := dumpChains(got), dumpChains(want)
	if !slices.Equal(slices.Sorted(maps.Keys(g)), slices.Sorted(maps.Keys(w))) {
		return fmt.Errorf("chains differ:\n%s\nwant:\n%s", got, want)
	}
	for name, rules := range w {
		have := g[name]
		ok := len(have) >= len(rules) && slices.Equal(have[:len(rules)], rules)
		if ok && len(have) > len(rules) {
			ok = len(rules) > 0 && endsChain(rules[len(rules)-1]) && len(have)-len(rules) <= maxDead
		}
		if !ok {
			return fmt.Errorf("chain %s holds %q, want %q", name, have, rules)
		}
	}
	return nil
}

// dumpChains reads a fake's dump into rules by "table/chain".
func dumpChains(dump string) map[string][]string {
	out := map[string][]string{}
	var table, chain string
	for _, l := range strings.Split(dump, "\n") {
		switch {
		case strings.HasPrefix(l, "table "):
			table = strings.TrimSuffix(strings.TrimPrefix(l, "table "), " {")
		case strings.HasPrefix(l, "\tchain "):
			chain = table + "/" + strings.TrimSuffix(strings.TrimPrefix(l, "\tchain "), " {")
			out[chain] = []string{}
		case strings.HasPrefix(l, "\t\t"):
			out[chain] = append(out[chain], l[2:])
		}
	}
	return out
}

// TestNFTDeltaFallsBack: changes an incremental transaction cannot express
// safely ask for the full one.
func TestNFTDeltaFallsBack(t *testing.T) {
	base := []nftChain{{Name: "pre", Hook: "type filter hook prerouting priority mangle; policy accept;", Rules: []string{"return"}}, {Name: "x", Rules: []string{"return"}}}
	hook := []nftChain{{Name: "pre", Hook: "type filter hook prerouting priority raw; policy accept;", Rules: []string{"return"}}, base[1]}
	if _, _, ok := nftDelta(base, hook, nil); ok {
		t.Error("a hook change went incremental")
	}
	if _, _, ok := nftDelta(base, base[1:], nil); ok {
		t.Error("a base chain's removal went incremental")
	}
	if tx, _, ok := nftDelta(base, base, nil); !ok || len(tx) != 0 {
		t.Errorf("no change: %q %v", tx, ok)
	}
	if _, err := parseNFT([]byte("table inet wanlb {\n\tbogus\n}\n")); err == nil {
		t.Error("parseNFT took a line it does not know")
	}
}

// TestNFTDeadRulesGoBeforeTheirTargets: a chain whose dead rules jump to a
// chain being deleted is flushed in the same transaction, even when its
// live rules stay the same (lte goes down, then leaves the config).
func TestNFTDeadRulesGoBeforeTheirTargets(t *testing.T) {
	nft, _, dp := newNFTFakes()
	for _, p := range []*plan.Plan{rulesPlan(false), rulesPlan(false, "lte"), twoWANs()} {
		if _, err := dp.Apply(p); err != nil {
			t.Fatal(err)
		}
		if err := sameLive(nft.dump(), fresh(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	if tx := nft.log[len(nft.log)-1]; strings.Contains(tx, "delete table") || !strings.Contains(tx, "flush chain inet wanlb group2") {
		t.Fatalf("lte's removal:\n%s", tx)
	}
}
