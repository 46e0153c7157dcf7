package dataplane

import (
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/plan"
)

// IPRule is one ip rule wanlb owns.
type IPRule struct {
	Priority int
	Dst      netip.Prefix // invalid = any destination
	Mark     uint32       // with Mask; 0/0 = no fwmark selector
	Mask     uint32
	Table    int
	// Suppress is "suppress_prefixlength 0": ignore a default route found
	// in Table. Only the rule for main uses it.
	Suppress bool
	// V6: an IPv6 rule (ip -6 rule); the same priorities and tables as
	// IPv4's.
	V6 bool
}

// family6 prefixes the text of an IPv6 rule or route, as ip(8) is told.
func family6(v6 bool) string {
	if v6 {
		return "-6 "
	}
	return ""
}

func (r IPRule) String() string {
	s := fmt.Sprintf("%s%d: from all", family6(r.V6), r.Priority)
	if r.Dst.IsValid() {
		s += " to " + r.Dst.String()
	}
	if r.Mask != 0 {
		s += fmt.Sprintf(" fwmark %#x/%#x", r.Mark, r.Mask)
	}
	t := strconv.Itoa(r.Table)
	if r.Table == tableMain {
		t = "main"
	}
	s += " lookup " + t
	if r.Suppress {
		s += " suppress_prefixlength 0"
	}
	return s
}

// RouteType is the kind of a route wanlb owns.
type RouteType int

// Route types.
const (
	RouteUnicast RouteType = iota
	RouteUnreachable
	RouteBlackhole
)

// Route is the default route of one of wanlb's tables.
type Route struct {
	Table   int
	Type    RouteType
	Gateway netip.Addr // invalid: a device route (point-to-point)
	Device  string
	V6      bool // an IPv6 route (::/0) in the table
}

func (r Route) String() string {
	f := family6(r.V6)
	switch r.Type {
	case RouteUnreachable:
		return fmt.Sprintf("%sunreachable default table %d", f, r.Table)
	case RouteBlackhole:
		return fmt.Sprintf("%sblackhole default table %d", f, r.Table)
	}
	if r.Gateway.IsValid() {
		return fmt.Sprintf("%sdefault via %s dev %s table %d", f, r.Gateway, r.Device, r.Table)
	}
	return fmt.Sprintf("%sdefault dev %s table %d", f, r.Device, r.Table)
}

const tableMain = 254

// Desired is the kernel state a Plan needs.
type Desired struct {
	Rules  []IPRule
	Routes []Route
	// Chains are the mangle chains wanlb owns in this state, and Mangle the
	// body of the iptables-restore transaction that fills them (without the
	// table header, the stale-chain deletions and COMMIT).
	Chains []string
	Mangle []byte
	// Chains6 and Mangle6 are the same for ip6tables.
	Chains6 []string
	Mangle6 []byte
	// Firewall is the transaction text of the DataPlane's backend (for
	// iptables, Chains and Mangle as one restore input).
	Firewall []byte
}

// Chain names. User chains hold at most 28 characters.
const (
	chainPre     = ChainPrefix + "pre"     // jumped to from mangle PREROUTING
	chainOut     = ChainPrefix + "out"     // from mangle OUTPUT
	chainPost    = ChainPrefix + "post"    // from mangle POSTROUTING
	chainDecide  = ChainPrefix + "decide"  // new connections without a mark
	chainDefault = ChainPrefix + "default" // traffic no policy rule catches
)

// hookJumps are the jumps from built-in chains, kept outside the restore
// transaction: restore would otherwise own the whole built-in chain.
var hookJumps = []struct{ builtin, chain string }{
	{"PREROUTING", chainPre},
	{"OUTPUT", chainOut},
	{"POSTROUTING", chainPost},
}

// Buckets is the number of hash buckets for Application Optimized Routing:
// the low 3 bits of the source address times the low 3 bits of the
// destination, read by xt_u32. u32 rather than HMARK's real hash because
// stock OpenWrt packages xt_u32 (kmod-ipt-u32) and not HMARK. A pair's
// bucket depends on its addresses only, so it is the same across restarts;
// each bucket is one rule a new connection may walk, and 64 gives shares in
// steps of 1/64. The plan assigns plan.Buckets buckets; the first 64 are
// these.
const Buckets = 64

// Render computes the kernel state for p. It re-checks every value that
// reaches iptables-restore, so nothing from the config can add rule text
// even if validation were bypassed.
func Render(p *plan.Plan) (*Desired, error) {
	d := &Desired{}
	if !p.Enabled {
		return d, nil
	}
	k, err := newMarking(p)
	if err != nil {
		return nil, err
	}
	m := k.mask

	// ip rules and routes, the same numbers for both families: a WAN's
	// mark selects its table, which holds its IPv4 default route and, when
	// it has an IPv6 side, its IPv6 one.
	// IPv6 state only when a WAN has an IPv6 side: a router without IPv6
	// uplinks (or a kernel without IPv6) is left as it was.
	families := []bool{false}
	if slices.ContainsFunc(p.WANs, func(w plan.WAN) bool { return w.Has6 }) {
		families = append(families, true)
	}
	for _, v6 := range families {
		d.Rules = append(d.Rules, IPRule{Priority: RulePrioSuppress, Table: tableMain, Suppress: true, V6: v6})
	}
	for _, w := range p.WANs {
		d.Rules = append(d.Rules, IPRule{Priority: RulePrioMark + int(w.Mark), Mark: m.Value(w.Mark), Mask: uint32(m), Table: table(w.Mark)})
		r := Route{Table: table(w.Mark), Device: w.Device}
		if w.Gateway.IsValid() {
			if !w.Gateway.Is4() {
				return nil, fmt.Errorf("wan %s: gateway %s is not IPv4", w.Name, w.Gateway)
			}
			r.Gateway = w.Gateway
		}
		d.Routes = append(d.Routes, r)
		if !w.Has6 {
			continue
		}
		d.Rules = append(d.Rules, IPRule{Priority: RulePrioMark + int(w.Mark), Mark: m.Value(w.Mark), Mask: uint32(m), Table: table(w.Mark), V6: true})
		r6 := Route{Table: table(w.Mark), Device: w.Device6, V6: true}
		if w.Gateway6.IsValid() {
			if !w.Gateway6.Is6() || w.Gateway6.Is4In6() || w.Gateway6.Zone() != "" {
				return nil, fmt.Errorf("wan %s: gateway6 %s is not an IPv6 address", w.Name, w.Gateway6)
			}
			r6.Gateway = w.Gateway6
		}
		d.Routes = append(d.Routes, r6)
	}
	for _, v6 := range families {
		for _, res := range []struct {
			idx uint32
			typ RouteType
		}{{m.Blackhole(), RouteBlackhole}, {m.Unreachable(), RouteUnreachable}} {
			d.Rules = append(d.Rules, IPRule{Priority: RulePrioMark + int(res.idx), Mark: m.Value(res.idx), Mask: uint32(m), Table: table(res.idx), V6: v6})
			d.Routes = append(d.Routes, Route{Table: table(res.idx), Type: res.typ, V6: v6})
		}
	}

	d.Chains, d.Mangle = renderMangle(k, false)
	if len(families) == 2 {
		d.Chains6, d.Mangle6 = renderMangle(k, true)
	}
	return d, nil
}

// renderMangle prints a marking as iptables-restore lines for wanlb's
// mangle chains, and lists the chains: for iptables, or with v6 for
// ip6tables (the same chains and marks; IPv6 verdicts, rules and hashes).
func renderMangle(k *marking, v6 bool) ([]string, []byte) {
	var b lineBuffer
	m := k.mask
	mask := hex(uint32(m))
	notMask := hex(^uint32(m))
	add := func(chain string, args ...string) {
		b.Line(append([]string{"-A", chain}, args...)...)
	}
	chains := []string{chainPre, chainOut, chainPost, chainDecide, chainDefault}

	// Connections that arrive on a WAN (port forwards, services on the
	// router) belong to it, so their replies leave the same way.
	for _, w := range k.wans {
		for _, dev := range devicesOf(w, v6) {
			add(chainPre, "-i", dev, "-m conntrack --ctstate NEW -m comment --comment \"inbound "+w.name+"\" -j CONNMARK --set-xmark", hex(w.mark)+"/"+mask)
		}
	}
	for _, c := range []string{chainPre, chainOut} {
		// The connection's WAN, once known, is the packet's WAN. The
		// restore is guarded: for a new connection it would clear a
		// mark the socket set itself (probes mark their packets).
		add(c, "-m connmark ! --mark 0x0/"+mask, "-j CONNMARK --restore-mark --nfmask", mask, "--ctmask", mask)
		add(c, "-m mark ! --mark 0x0/"+mask, "-j RETURN")
		// Someone else's mark (mwan3, pbr, Tailscale, a socket's own
		// SO_MARK): their traffic, not ours to steer.
		add(c, "-m mark ! --mark 0x0/"+notMask, "-j RETURN")
		add(c, "-m conntrack --ctstate NEW -j", chainDecide)
	}
	// The connection belongs to the WAN it actually leaves by, whatever
	// the decision was (a specific route in main, a socket bound to a
	// device): replies are then accepted by strict rp_filter, and a
	// conntrack flush for a WAN catches exactly its connections.
	for _, w := range k.wans {
		for _, dev := range devicesOf(w, v6) {
			add(chainPost, "-m connmark --mark 0x0/"+mask, "-o", dev, "-j CONNMARK --set-xmark", hex(w.mark)+"/"+mask)
		}
	}

	group := func(chain string, v verdict) {
		switch v.action {
		case plan.Main:
			// Left unmarked: the main table routes it.
		case plan.Unreachable, plan.Blackhole:
			add(chain, "-j MARK --set-xmark", hex(v.fixed)+"/"+mask)
		case plan.Balance:
			if len(v.buckets) > 0 {
				// Each bucket goes to the WAN's set chain (the plan says
				// which): the first matching bucket ends the walk. xt_u32
				// reads 64 buckets, the first 64 of the plan's.
				// The words ending in the addresses' last bytes: IPv4's
				// source and destination at 12 and 16, IPv6's end at
				// 20+3 and 36+3.
				src, dst := 12, 16
				if v6 {
					src, dst = 20, 36
				}
				for b, wan := range v.buckets[:Buckets] {
					add(chain, fmt.Sprintf("-m u32 --u32 \"%d&0x7=%d&&%d&0x7=%d\" -g %s", src, b>>3, dst, b&7, setChain(wan)))
				}
				return
			}
			left := 1.0
			for i, mem := range v.members {
				set := "-j MARK --set-xmark " + hex(mem.mark) + "/" + mask
				if i == len(v.members)-1 || left <= 0 {
					add(chain, "-m mark --mark 0x0/"+mask, set)
					break
				}
				prob := math.Min(1, mem.share/left)
				left -= mem.share
				add(chain, "-m mark --mark 0x0/"+mask, "-m statistic --mode random --probability", strconv.FormatFloat(prob, 'f', 8, 64), set)
			}
		}
	}

	if k.hashed {
		for _, w := range k.wans {
			chains = append(chains, setChain(w.name))
			add(setChain(w.name), "-j MARK --set-xmark", hex(w.mark)+"/"+mask)
		}
	}
	// The WANs' resolvers first (each address once, so one mark at most),
	// then the policy rules.
	pinned := false
	for _, pin := range k.dns {
		if pin.addr.Is6() == v6 {
			add(chainDecide, "-d", netip.PrefixFrom(pin.addr, pin.addr.BitLen()).String(), "-m comment --comment \"dns "+pin.wan+"\" -j MARK --set-xmark", hex(pin.mark)+"/"+mask)
			pinned = true
		}
	}
	if pinned {
		add(chainDecide, "-m mark ! --mark 0x0/"+mask, "-j RETURN")
	}
	for i, r := range k.rules {
		// A rule with addresses of one family is for that family only.
		if f := r.rule.Family(); f != 0 && (f == 6) != v6 {
			continue
		}
		chain := fmt.Sprintf("%srule%d", ChainPrefix, i)
		chains = append(chains, chain)
		for _, match := range ruleMatches(r.rule, v6) {
			add(chainDecide, match, "-m comment --comment \"rule "+r.rule.ID+"\" -g", chain)
		}
		if v6 {
			group(chain, r.to6)
		} else {
			group(chain, r.to)
		}
	}
	add(chainDecide, "-g", chainDefault)
	if v6 {
		group(chainDefault, k.def6)
	} else {
		group(chainDefault, k.def)
	}
	return chains, b.Bytes()
}

// devicesOf lists the devices of one family of a WAN: its IPv4 device, or
// its IPv6 side's (none without one).
func devicesOf(w wanMark, v6 bool) []string {
	if !v6 {
		return []string{w.device}
	}
	if w.device6 == "" {
		return nil
	}
	return []string{w.device6}
}

func hex(v uint32) string { return fmt.Sprintf("%#x", v) }

// setChain is the chain that marks a new connection for one WAN, the target
// of the hash buckets. WAN names are UCI section names (at most 32
// characters of [A-Za-z0-9_]); the chain name keeps to iptables' 28.
func setChain(wan string) string {
	name := ChainPrefix + "set_" + wan
	if len(name) > 28 {
		h := fnv.New32a()
		h.Write([]byte(wan))
		name = fmt.Sprintf("%sset_%s_%08x", ChainPrefix, wan[:6], h.Sum32())
	}
	return name
}

// ruleMatches expands a policy rule into iptables match strings; the rule
// matches when any of them does.
func ruleMatches(r config.Rule, v6 bool) []string {
	protos := []string{""}
	switch r.Proto {
	case config.ProtoICMP:
		protos = []string{"-p icmp"}
		if v6 {
			protos = []string{"-p ipv6-icmp"}
		}
	case config.ProtoTCP, config.ProtoUDP:
		protos = []string{"-p " + string(r.Proto)}
	case config.ProtoTCPUDP:
		protos = []string{"-p tcp", "-p udp"}
	}
	addrs := func(list []config.AddrMatch, flag, rangeFlag string) []string {
		if len(list) == 0 {
			return []string{""}
		}
		var out []string
		for _, a := range list {
			if a.IsRange() {
				out = append(out, "-m iprange "+rangeFlag+" "+a.String())
			} else {
				out = append(out, flag+" "+a.String())
			}
		}
		return out
	}
	cross := func(a, b []string) []string {
		var out []string
		for _, x := range a {
			for _, y := range b {
				out = append(out, strings.TrimSpace(x+" "+y))
			}
		}
		return out
	}
	out := cross(protos, addrs(r.SrcIP, "-s", "--src-range"))
	out = cross(out, addrs(r.DestIP, "-d", "--dst-range"))
	out = cross(out, portMatches(r.SrcPort, "--sports"))
	return cross(out, portMatches(r.DestPort, "--dports"))
}

// portMatches renders ports as multiport matches of at most 15 slots each
// (a range takes two), the limit of xt_multiport.
func portMatches(ports []config.PortRange, flag string) []string {
	if len(ports) == 0 {
		return []string{""}
	}
	var out, cur []string
	slots := 0
	for _, p := range ports {
		s, n := strconv.Itoa(int(p.From)), 1
		if p.To != p.From {
			s, n = fmt.Sprintf("%d:%d", p.From, p.To), 2
		}
		if slots+n > 15 {
			out = append(out, "-m multiport "+flag+" "+strings.Join(cur, ","))
			cur, slots = nil, 0
		}
		cur, slots = append(cur, s), slots+n
	}
	return append(out, "-m multiport "+flag+" "+strings.Join(cur, ","))
}
