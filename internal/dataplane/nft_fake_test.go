package dataplane

import (
	"fmt"
	"hash/fnv"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// fakeNFT is a stateful stand-in for `nft -f -` and the netlink reads:
// it parses the transaction text wanlb renders (add/delete/flush table,
// add/delete/flush chain, add/insert rule, table blocks with chains and rules, where a block
// naming an existing chain appends to it), applies it all or nothing like
// the kernel's commit, refuses a delete or flush of a missing table or
// chain and a jump or goto to a chain the table does not have, and keeps
// other tables (fw4's) untouched unless a transaction names them.
type fakeNFT struct {
	tables map[string]*fakeTable // "inet fw4" -> table
	gen    uint32
	runs   int
	pid    int
	failOn string   // a transaction containing this fails, for error paths
	log    []string // transactions, in order
}

type fakeTable struct {
	order  []string            // chain names in creation order
	chains map[string][]string // chain -> lines (hook line first)
}

func newFakeNFT() *fakeNFT {
	f := &fakeNFT{tables: map[string]*fakeTable{}, pid: 1000}
	// fw4's table, as OpenWrt has it: it must survive everything.
	f.tables["inet fw4"] = &fakeTable{order: []string{"mangle_prerouting"}, chains: map[string][]string{
		"mangle_prerouting": {"type filter hook prerouting priority mangle; policy accept;", "meta l4proto tcp counter"},
	}}
	return f
}

var (
	fakeTableRe    = regexp.MustCompile(`^(add|delete|flush) table (inet|ip|ip6) (\w+)$`)
	fakeChainCmdRe = regexp.MustCompile(`^(add|delete|flush) chain (inet|ip|ip6) (\w+) (\w+)(?: \{ (.+) \})?$`)
	fakeRuleCmdRe  = regexp.MustCompile(`^(add|insert) rule (inet|ip|ip6) (\w+) (\w+) (.+)$`)
	fakeBlockRe    = regexp.MustCompile(`^table (inet|ip|ip6) (\w+) \{$`)
	fakeChainRe    = regexp.MustCompile(`^chain (\w+) \{$`)
	fakeJumpRe     = regexp.MustCompile(`\b(jump|goto) (\w+)`)
)

func (t *fakeTable) clone() *fakeTable {
	c := &fakeTable{order: slices.Clone(t.order), chains: map[string][]string{}}
	for k, v := range t.chains {
		c.chains[k] = slices.Clone(v)
	}
	return c
}

// Run applies one transaction.
func (f *fakeNFT) Run(text []byte) (int, error) {
	f.runs++
	f.pid++
	f.log = append(f.log, string(text))
	if f.failOn != "" && strings.Contains(string(text), f.failOn) {
		return f.pid, fmt.Errorf("nft: /dev/stdin:1:1: Error: injected")
	}
	next := map[string]*fakeTable{}
	for k, v := range f.tables {
		next[k] = v.clone()
	}
	var cur *fakeTable
	var chain string
	for i, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		fail := func(msg string) (int, error) {
			return f.pid, fmt.Errorf("nft: /dev/stdin:%d: Error: %s: %s", i+1, msg, line)
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case cur == nil:
			if m := fakeTableRe.FindStringSubmatch(line); m != nil {
				key := m[2] + " " + m[3]
				switch m[1] {
				case "add":
					if next[key] == nil {
						next[key] = &fakeTable{chains: map[string][]string{}}
					}
				case "delete":
					if next[key] == nil {
						return fail("No such file or directory")
					}
					delete(next, key)
				case "flush":
					if next[key] == nil {
						return fail("No such file or directory")
					}
					for c := range next[key].chains {
						next[key].chains[c] = next[key].chains[c][:min(1, len(next[key].chains[c]))]
					}
				}
			} else if m := fakeChainCmdRe.FindStringSubmatch(line); m != nil {
				t, name := next[m[2]+" "+m[3]], m[4]
				if t == nil {
					return fail("No such file or directory")
				}
				rules, exists := t.chains[name]
				switch {
				case m[1] == "add":
					if !exists {
						t.order = append(t.order, name)
						t.chains[name] = nil
						if m[5] != "" {
							t.chains[name] = []string{m[5]}
						}
					} else if m[5] != "" && (len(rules) == 0 || rules[0] != m[5]) {
						return fail("Could not process rule: Device or resource busy (another hook)")
					}
				case !exists:
					return fail("No such file or directory")
				case m[1] == "flush":
					// A base chain keeps its hook, as in the kernel.
					if len(rules) > 0 && strings.HasPrefix(rules[0], "type ") {
						t.chains[name] = rules[:1]
					} else {
						t.chains[name] = nil
					}
				case m[1] == "delete":
					delete(t.chains, name)
					t.order = slices.DeleteFunc(t.order, func(c string) bool { return c == name })
				}
			} else if m := fakeRuleCmdRe.FindStringSubmatch(line); m != nil {
				t := next[m[2]+" "+m[3]]
				if t == nil {
					return fail("No such file or directory")
				}
				rules, ok := t.chains[m[4]]
				if !ok {
					return fail("No such file or directory")
				}
				if m[1] == "add" {
					t.chains[m[4]] = append(rules, m[5])
					break
				}
				// insert: at the head, after a base chain's hook.
				at := 0
				if len(rules) > 0 && strings.HasPrefix(rules[0], "type ") {
					at = 1
				}
				t.chains[m[4]] = slices.Insert(rules, at, m[5])
			} else if m := fakeBlockRe.FindStringSubmatch(line); m != nil {
				key := m[1] + " " + m[2]
				if next[key] == nil {
					next[key] = &fakeTable{chains: map[string][]string{}}
				}
				cur = next[key]
			} else {
				return fail("syntax error")
			}
		case chain == "":
			if line == "}" {
				cur = nil
			} else if m := fakeChainRe.FindStringSubmatch(line); m != nil {
				chain = m[1]
				if _, ok := cur.chains[chain]; !ok {
					cur.order = append(cur.order, chain)
					cur.chains[chain] = nil
				}
			} else {
				return fail("syntax error")
			}
		case line == "}":
			chain = ""
		default:
			if strings.HasPrefix(line, "type ") && len(cur.chains[chain]) > 0 {
				return fail("hook declaration after rules, or of an existing chain")
			}
			cur.chains[chain] = append(cur.chains[chain], line)
		}
	}
	if cur != nil || chain != "" {
		return f.pid, fmt.Errorf("nft: unterminated block")
	}
	// Jumps are resolved at commit, against the table's final state.
	for key, t := range next {
		for c, rules := range t.chains {
			for _, r := range rules {
				for _, m := range fakeJumpRe.FindAllStringSubmatch(r, -1) {
					if _, ok := t.chains[m[2]]; !ok {
						return f.pid, fmt.Errorf("nft: Error: Could not process rule: No such file or directory: %s %s: %s", key, c, r)
					}
				}
			}
		}
	}
	f.tables = next
	f.gen++
	return f.pid, nil
}

// Generation is the commit count.
func (f *fakeNFT) Generation() (uint32, error) { return f.gen, nil }

// Fingerprint hashes the rules of table inet wanlb.
func (f *fakeNFT) Fingerprint() (uint64, error) {
	h := fnv.New64a()
	if t := f.tables["inet "+NFTTable]; t != nil {
		h.Write([]byte(dumpTable(t)))
	}
	return h.Sum64(), nil
}

// foreign applies a transaction as another program would.
func (f *fakeNFT) foreign(text string) error {
	_, err := f.Run([]byte(text))
	f.runs--
	return err
}

func dumpTable(t *fakeTable) string {
	var b strings.Builder
	for _, c := range t.order {
		fmt.Fprintf(&b, "\tchain %s {\n", c)
		for _, r := range t.chains[c] {
			fmt.Fprintf(&b, "\t\t%s\n", r)
		}
		b.WriteString("\t}\n")
	}
	return b.String()
}

// dump is the whole ruleset, tables sorted, chains in creation order.
func (f *fakeNFT) dump() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(f.tables)) {
		fmt.Fprintf(&b, "table %s {\n%s}\n", k, dumpTable(f.tables[k]))
	}
	return b.String()
}
