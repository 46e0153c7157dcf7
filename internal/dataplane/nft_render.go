package dataplane

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/plan"
)

// NFTTable is wanlb's own nftables table. It lives beside OpenWrt's fw4
// (`table inet fw4`), which fw4 replaces on every reload without touching
// other tables; wanlb never reads or changes any table but this one.
const NFTTable = "wanlb"

// NFTBuckets is the number of hash buckets for Application Optimized
// Routing on the nftables backend: jhash spreads pairs evenly over any
// modulus, so shares come in steps of 1/256 (the iptables backend is bound
// to 64 by what xt_u32 can read).
const NFTBuckets = plan.Buckets

// nftHashSeed fixes jhash's seed. Without one the kernel draws a random
// seed each time the rule is loaded, and every apply would move every
// source+destination pair to another bucket.
const nftHashSeed = 0x77616e6c // "wanl"

// maxShareDenominator bounds N in "numgen random mod N": shares are matched
// exactly when they are multiples of 1/N for some N up to this (weights
// 1..100 over a handful of WANs always are), else to within 1/N.
const maxShareDenominator = 10000

// RenderNFT renders the nftables transaction for p: the whole of
// `table inet wanlb`, deleted and created again in one `nft -f -` run, so
// the kernel switches from the old rules to the new ones atomically and no
// stale chain survives. Values are re-checked as Render does for iptables.
//
// Hooks and priorities, beside fw4 (whose chains sit at: mangle_prerouting
// -150, dstnat -100, filter 0, srcnat 100, mangle_output -150 as a route
// chain, mangle_postrouting -150):
//   - pre: prerouting at mangle (-150), after conntrack (-200) so ct state
//     and ct mark are known, before the routing decision that reads the
//     packet mark. fw4's mangle_prerouting at the same priority only
//     touches DSCP and MSS, so their relative order does not matter.
//   - out: a `type route` chain on output at mangle: when a route chain
//     changes the mark, the kernel routes the packet again, which is how
//     router-originated traffic reaches its WAN's table.
//   - post: postrouting at mangle, before fw4's srcnat (100) masquerades.
func RenderNFT(p *plan.Plan) ([]byte, error) {
	chains, err := nftChains(p)
	if err != nil {
		return nil, err
	}
	var b lineBuffer
	b.Line("add table inet", NFTTable)
	b.Line("delete table inet", NFTTable)
	if !p.Enabled {
		return b.Bytes(), nil
	}
	b.Line("table inet", NFTTable, "{")
	for _, c := range chains {
		c.write(&b, true)
	}
	b.Line("}")
	return b.Bytes(), nil
}

// nftChain is one chain of wanlb's table as data: a transaction writes it
// whole (full sync) or re-sends it alone when its content changed.
type nftChain struct {
	Name  string
	Hook  string // the base chain's declaration; "" for a regular chain
	Rules []string
}

// write prints the chain block, with its hook declaration when the chain
// is being created (withHook).
func (c nftChain) write(b *lineBuffer, withHook bool) {
	b.Indent(1, "chain", c.Name, "{")
	if withHook && c.Hook != "" {
		b.Indent(2, c.Hook)
	}
	for _, r := range c.Rules {
		b.Indent(2, r)
	}
	b.Indent(1, "}")
}

// nftChains computes the chains of table inet wanlb for p (none when p is
// disabled).
//
// Only the group chains depend on which WANs are up: decide sends each
// policy rule's traffic to the chain of its group (a distinct WAN list and
// fallback of the config) and the rest to "default", and a group chain
// holds the group's verdict (one mark, a numgen or jhash vmap, or a fixed
// mark). So a WAN going up or down, or a weight change, changes a few
// short chains, and an incremental sync re-sends only those.
func nftChains(p *plan.Plan) ([]nftChain, error) {
	if !p.Enabled {
		return nil, nil
	}
	k, err := newMarking(p)
	if err != nil {
		return nil, err
	}
	if _, err := Render(p); err != nil { // routes: the same checks as for iptables
		return nil, err
	}
	return renderNFTChains(k), nil
}

// renderNFTChains prints a marking as the chains of table inet wanlb.
func renderNFTChains(k *marking) []nftChain {
	m := k.mask
	mask, keep := hex32(uint32(m)), hex32(^uint32(m))
	setMark := func(v string) string { return "meta mark set meta mark and " + keep + " or " + v }

	var chains []nftChain
	chain := func(name, hook string, rules ...string) {
		if hook != "" {
			hook += "; policy accept;"
		}
		chains = append(chains, nftChain{Name: name, Hook: hook, Rules: rules})
	}
	// One ruleset for both families (table inet): marks and connmarks
	// mean the same WAN for IPv4 and IPv6, whose ip rules and tables use
	// the same numbers. Only decide and the group chains tell them apart.
	var pre []string
	// Connections that arrive on a WAN (port forwards, services on the
	// router) belong to it, so their replies leave the same way.
	for _, w := range k.wans {
		for _, dev := range w.devices() {
			pre = append(pre, fmt.Sprintf("iifname %q ct state new ct mark set ct mark and %s or %s comment \"inbound %s\"", dev, keep, hex32(w.mark), w.name))
		}
	}
	// The connection's WAN, once known, is the packet's WAN. Kernel 5.15
	// cannot OR two registers (ct mark into meta mark under a mask), so the
	// masked restore dispatches on the value: one chain per WAN mark.
	var restore []string
	for _, w := range k.wans {
		restore = append(restore, hex32(w.mark)+" : jump "+wanChain("restore_", w.name))
	}
	common := []string{}
	if len(restore) > 0 {
		common = append(common, "ct mark and "+mask+" vmap { "+strings.Join(restore, ", ")+" }")
	}
	common = append(common,
		"meta mark and "+mask+" != 0 return",
		// Someone else's mark (mwan3, pbr, Tailscale, a socket's own
		// SO_MARK, as wanlb's probes set): their traffic, not ours.
		"meta mark and "+keep+" != 0 return",
		"ct state new jump decide")
	chain("pre", "type filter hook prerouting priority mangle", append(pre, common...)...)
	chain("out", "type route hook output priority mangle", common...)
	// The connection belongs to the WAN it actually leaves by, whatever
	// the decision was (a specific route in main, a socket bound to a
	// device): replies pass strict rp_filter, and a conntrack flush for a
	// WAN catches exactly its connections.
	var post []string
	for _, w := range k.wans {
		for _, dev := range w.devices() {
			post = append(post, fmt.Sprintf("ct mark and %s == 0 oifname %q ct mark set ct mark and %s or %s", mask, dev, keep, hex32(w.mark)))
		}
	}
	chain("post", "type filter hook postrouting priority mangle", post...)
	for _, w := range k.wans {
		chain(wanChain("restore_", w.name), "", setMark(hex32(w.mark)))
	}
	for _, w := range k.wans {
		chain(wanChain("set_", w.name), "", setMark(hex32(w.mark)))
	}

	// verdictRule renders where a group sends a new connection of one
	// family: the rule of its group chain.
	verdictRule := func(v verdict, v6 bool) string {
		switch v.action {
		case plan.Unreachable, plan.Blackhole:
			return setMark(hex32(v.fixed)) + " return"
		case plan.Balance:
			switch {
			case len(v.members) == 1:
				return "goto " + wanChain("set_", v.members[0].wan)
			case len(v.buckets) > 0:
				addr := "ip"
				if v6 {
					addr = "ip6"
				}
				return fmt.Sprintf("jhash %s saddr . %s daddr mod %d seed %#x vmap { %s }", addr, addr, NFTBuckets, nftHashSeed, spans(v.buckets))
			case len(v.members) > 1:
				ms := make([]plan.Member, len(v.members))
				for i, mem := range v.members {
					ms[i] = plan.Member{WAN: mem.wan, Share: mem.share}
				}
				n, counts := shareCounts(ms)
				var owners []string
				for i, c := range counts {
					for range c {
						owners = append(owners, v.members[i].wan)
					}
				}
				return fmt.Sprintf("numgen random mod %d vmap { %s }", n, spans(owners))
			}
		}
		return "return" // plan.Main: left unmarked, the main table routes it
	}

	// decide: policy rules in file order, the first match wins (every
	// group chain ends in a verdict), then the default group. Rules with
	// the same WAN list and fallback share a group chain per family, named
	// by first appearance: the names depend on the config only, so decide
	// stays the same while WANs come and go. A rule whose addresses are of
	// one family (ip saddr, ip6 daddr: nft matches the family with them)
	// goes to that family's group; one without addresses dispatches on
	// the family.
	// The WANs' resolvers come first, from a chain of their own: it
	// changes when a WAN with resolvers goes down or up, decide does not.
	// A pinned connection has its mark when dns returns, and leaves
	// decide with it.
	var pins4, pins6 []string
	for _, pin := range k.dns {
		e := pin.addr.String() + " : goto " + wanChain("set_", pin.wan)
		if pin.addr.Is4() {
			pins4 = append(pins4, e)
		} else {
			pins6 = append(pins6, e)
		}
	}
	var dns []string
	if len(pins4) > 0 {
		dns = append(dns, "ip daddr vmap { "+strings.Join(pins4, ", ")+" }")
	}
	if len(pins6) > 0 {
		dns = append(dns, "ip6 daddr vmap { "+strings.Join(pins6, ", ")+" }")
	}
	chain("dns", "", dns...)
	decide := []string{"jump dns", "meta mark and " + mask + " != 0 return"}
	var groupOrder []string
	groups := map[string]string{} // key -> chain name
	groupRules := map[string]string{}
	groupOf := func(r config.Rule, v verdict, v6 bool) string {
		rule := verdictRule(v, v6)
		key := fmt.Sprintf("%q %t %t %s", r.WANs, r.Fallback, v6, rule)
		name, ok := groups[key]
		if !ok {
			name = fmt.Sprintf("group%d", len(groupOrder))
			if v6 {
				name = fmt.Sprintf("group%d_6", len(groupOrder))
			}
			groups[key] = name
			groupOrder = append(groupOrder, name)
			groupRules[name] = rule
		}
		return name
	}
	for _, r := range k.rules {
		comment := fmt.Sprintf(" comment \"rule %s\"", r.rule.ID)
		switch r.rule.Family() {
		case 4:
			decide = append(decide, nftMatch(r.rule)+"goto "+groupOf(r.rule, r.to, false)+comment)
		case 6:
			decide = append(decide, nftMatch(r.rule)+"goto "+groupOf(r.rule, r.to6, true)+comment)
		default:
			decide = append(decide, fmt.Sprintf("%smeta nfproto vmap { ipv4 : goto %s, ipv6 : goto %s }%s",
				nftMatch(r.rule), groupOf(r.rule, r.to, false), groupOf(r.rule, r.to6, true), comment))
		}
	}
	decide = append(decide, `meta nfproto vmap { ipv4 : goto default, ipv6 : goto default_6 } comment "default"`)
	chain("decide", "", decide...)
	for _, name := range groupOrder {
		chain(name, "", groupRules[name])
	}
	chain("default", "", verdictRule(k.def, false))
	chain("default_6", "", verdictRule(k.def6, true))
	return chains
}

func hex32(v uint32) string { return fmt.Sprintf("0x%08x", v) }

// nftChain names a per-WAN chain. WAN names are UCI section names
// ([A-Za-z0-9_]{1,32}), valid in nft identifiers after a letter prefix.
func wanChain(prefix, wan string) string { return prefix + wan }

// spans renders owners (one WAN per slot 0..len-1) as verdict map elements,
// runs of one WAN merged into a range: "0-2 : goto set_a, 3 : goto set_b".
func spans(owners []string) string {
	var parts []string
	for i := 0; i < len(owners); {
		j := i
		for j+1 < len(owners) && owners[j+1] == owners[i] {
			j++
		}
		key := strconv.Itoa(i)
		if j > i {
			key += "-" + strconv.Itoa(j)
		}
		parts = append(parts, key+" : goto "+wanChain("set_", owners[i]))
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// shareCounts turns the members' shares into slots of "numgen random mod
// n": the smallest n up to maxShareDenominator at which every share is a
// whole number of slots, else maxShareDenominator slots handed out by
// largest remainder. Every member keeps at least one slot.
func shareCounts(members []plan.Member) (int, []int) {
	total := 0.0
	for _, m := range members {
		total += m.Share
	}
	if total <= 0 {
		total = 1
	}
	for n := len(members); n <= maxShareDenominator; n++ {
		counts := make([]int, len(members))
		sum, exact := 0, true
		for i, m := range members {
			x := m.Share / total * float64(n)
			c := int(math.Round(x))
			if math.Abs(x-float64(c)) > 1e-6 || c < 1 {
				exact = false
				break
			}
			counts[i], sum = c, sum+c
		}
		if exact && sum == n {
			return n, counts
		}
	}
	n := maxShareDenominator
	counts := make([]int, len(members))
	sum := 0
	for i, m := range members {
		counts[i] = max(1, int(m.Share/total*float64(n)))
		sum += counts[i]
	}
	for sum < n { // largest remainder first
		best, bestRem := 0, -1.0
		for i, m := range members {
			if rem := m.Share/total*float64(n) - float64(counts[i]); rem > bestRem {
				best, bestRem = i, rem
			}
		}
		counts[best]++
		sum++
	}
	for sum > n { // only when the one-slot minimum overshot
		big := 0
		for i := range counts {
			if counts[i] > counts[big] {
				big = i
			}
		}
		counts[big]--
		sum--
	}
	return n, counts
}

// nftMatch renders a policy rule's matches, each list as an anonymous set
// (nft merges overlapping items), followed by a space; "" matches all.
func nftMatch(r config.Rule) string {
	var parts []string
	switch r.Proto {
	case config.ProtoICMP:
		// ICMP of the rule's family; both for a rule without addresses.
		switch r.Family() {
		case 4:
			parts = append(parts, "meta l4proto icmp")
		case 6:
			parts = append(parts, "meta l4proto ipv6-icmp")
		default:
			parts = append(parts, "meta l4proto { icmp, ipv6-icmp }")
		}
	case config.ProtoTCP, config.ProtoUDP:
		parts = append(parts, "meta l4proto "+string(r.Proto))
	case config.ProtoTCPUDP:
		parts = append(parts, "meta l4proto { tcp, udp }")
	}
	addrs := func(field string, list []config.AddrMatch) {
		if len(list) == 0 {
			return
		}
		var items []string
		for _, a := range list {
			if a.IsRange() {
				items = append(items, a.From.String()+"-"+a.To.String())
			} else {
				items = append(items, prefixString(a.Prefix))
			}
		}
		parts = append(parts, field+" "+set(items))
	}
	family := "ip"
	if r.Family() == 6 {
		family = "ip6"
	}
	addrs(family+" saddr", r.SrcIP)
	addrs(family+" daddr", r.DestIP)
	ports := func(field string, list []config.PortRange) {
		if len(list) == 0 {
			return
		}
		var items []string
		for _, p := range list {
			s := strconv.Itoa(int(p.From))
			if p.To != p.From {
				s += "-" + strconv.Itoa(int(p.To))
			}
			items = append(items, s)
		}
		// th: the transport header; the proto match above guarantees
		// TCP or UDP (the config refuses ports with other protocols).
		parts = append(parts, field+" "+set(items))
	}
	ports("th sport", r.SrcPort)
	ports("th dport", r.DestPort)
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " ") + " "
}

func set(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return "{ " + strings.Join(items, ", ") + " }"
}

func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.Masked().String()
}
