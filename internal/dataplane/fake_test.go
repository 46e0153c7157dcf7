package dataplane

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// fakeFirewall is a stateful stand-in for iptables' mangle table that
// behaves like iptables-restore --noflush: a declared chain is created or
// emptied, a jump to a chain that does not exist fails, -X of a chain still
// referenced fails, and any failure rolls the whole transaction back.
type fakeFirewall struct {
	chains   map[string][]string // chain -> rules ("-A chain" stripped)
	restores int
	execs    int           // processes a real implementation would have spawned
	failOn   string        // a restore containing this fails, for error paths
	log      []string      // restore inputs, in order
	v6       *fakeFirewall // ip6tables beside this iptables, in tests that need it
}

var builtins = []string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}

func newFakeFirewall() *fakeFirewall {
	f := &fakeFirewall{chains: map[string][]string{}}
	for _, b := range builtins {
		f.chains[b] = nil
	}
	return f
}

var targets = []string{"ACCEPT", "DROP", "RETURN", "MARK", "CONNMARK"}

func (f *fakeFirewall) Restore(data []byte) error {
	f.restores++
	f.execs++
	f.log = append(f.log, string(data))
	if f.failOn != "" && strings.Contains(string(data), f.failOn) {
		return fmt.Errorf("iptables-restore: line 1 failed (injected)")
	}
	next := map[string][]string{}
	for k, v := range f.chains {
		next[k] = slices.Clone(v)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) < 2 || lines[0] != "*mangle" || lines[len(lines)-1] != "COMMIT" {
		return fmt.Errorf("restore: want one *mangle ... COMMIT block")
	}
	for i, l := range lines[1 : len(lines)-1] {
		fail := func(msg string) error { return fmt.Errorf("iptables-restore: line %d failed: %s: %s", i+2, msg, l) }
		fields := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, ":"):
			next[fields[0][1:]] = nil
		case fields[0] == "-A":
			if len(fields) < 3 {
				return fail("short rule")
			}
			if _, ok := next[fields[1]]; !ok {
				return fail("no chain " + fields[1])
			}
			for j, w := range fields {
				if (w == "-j" || w == "-g") && j+1 < len(fields) {
					t := fields[j+1]
					if _, ok := next[t]; !ok && !slices.Contains(targets, t) {
						return fail("no chain/target by that name " + t)
					}
				}
			}
			next[fields[1]] = append(next[fields[1]], strings.Join(fields[2:], " "))
		case fields[0] == "-F":
			next[fields[1]] = nil
		case fields[0] == "-X":
			if _, ok := next[fields[1]]; !ok || slices.Contains(builtins, fields[1]) {
				return fail("no chain to delete " + fields[1])
			}
			if len(next[fields[1]]) > 0 {
				return fail("chain not empty")
			}
			for c, rules := range next {
				for _, r := range rules {
					if strings.HasSuffix(r, " "+fields[1]) {
						return fail("chain referenced from " + c)
					}
				}
			}
			delete(next, fields[1])
		default:
			return fail("unsupported")
		}
	}
	f.chains = next
	return nil
}

func (f *fakeFirewall) ListChains(table string) ([]string, error) {
	f.execs++
	return slices.Sorted(maps.Keys(f.chains)), nil
}

func (f *fakeFirewall) EnsureJump(table, builtin string, rule []string) error {
	f.execs++
	r := strings.Join(rule, " ")
	if slices.Contains(f.chains[builtin], r) {
		return nil
	}
	target := rule[len(rule)-1]
	if _, ok := f.chains[target]; !ok {
		return fmt.Errorf("no chain %s", target)
	}
	f.execs++
	f.chains[builtin] = append([]string{r}, f.chains[builtin]...)
	return nil
}

func (f *fakeFirewall) HasJump(table, builtin string, rule []string) (bool, error) {
	f.execs++
	return slices.Contains(f.chains[builtin], strings.Join(rule, " ")), nil
}

func (f *fakeFirewall) DeleteJump(table, builtin string, rule []string) error {
	f.execs++
	r := strings.Join(rule, " ")
	f.chains[builtin] = slices.DeleteFunc(f.chains[builtin], func(s string) bool { return s == r })
	return nil
}

// dump renders the table like iptables-save, chains sorted.
func (f *fakeFirewall) dump() string {
	var b strings.Builder
	names := slices.Sorted(maps.Keys(f.chains))
	for _, c := range names {
		fmt.Fprintf(&b, ":%s\n", c)
	}
	for _, c := range names {
		for _, r := range f.chains[c] {
			fmt.Fprintf(&b, "-A %s %s\n", c, r)
		}
	}
	return b.String()
}

// fakeRouting keeps rules and routes in memory. It holds a foreign rule
// and table that must survive every apply and flush.
type fakeRouting struct {
	rules  []IPRule
	routes []Route
	calls  int
}

func (r *fakeRouting) Rules() ([]IPRule, error) {
	r.calls++
	return slices.DeleteFunc(slices.Clone(r.rules), func(x IPRule) bool { return !owned(x) }), nil
}

func (r *fakeRouting) AddRule(x IPRule) error {
	r.calls++
	if !slices.Contains(r.rules, x) {
		r.rules = append(r.rules, x)
	}
	return nil
}

func (r *fakeRouting) DelRule(x IPRule) error {
	r.calls++
	r.rules = slices.DeleteFunc(r.rules, func(y IPRule) bool { return y == x })
	return nil
}

func (r *fakeRouting) Routes() ([]Route, error) {
	r.calls++
	return slices.DeleteFunc(slices.Clone(r.routes), func(x Route) bool { return !ownedTable(x.Table) }), nil
}

func (r *fakeRouting) ReplaceRoute(x Route) error {
	r.calls++
	r.routes = slices.DeleteFunc(r.routes, func(y Route) bool { return y.Table == x.Table && y.V6 == x.V6 })
	r.routes = append(r.routes, x)
	return nil
}

func (r *fakeRouting) DelRoute(x Route) error {
	r.calls++
	r.routes = slices.DeleteFunc(r.routes, func(y Route) bool { return y.Table == x.Table && y.V6 == x.V6 })
	return nil
}

func (r *fakeRouting) dump() string {
	var lines []string
	for _, x := range r.rules {
		lines = append(lines, "rule "+x.String())
	}
	sort.Strings(lines)
	var routes []string
	for _, x := range r.routes {
		routes = append(routes, "route "+x.String())
	}
	sort.Strings(routes)
	return strings.Join(append(lines, routes...), "\n") + "\n"
}

type fakeSysctl map[string]string

func (s fakeSysctl) Set(name, value string) error { s[name] = value; return nil }
