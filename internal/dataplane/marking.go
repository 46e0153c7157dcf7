package dataplane

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/mark"
	"github.com/wanlb/wanlb/internal/plan"
)

// marking is a plan turned into which new connections get which mark: the
// logic both firewall backends share. It checks every value that reaches
// rule text (so nothing from the config can add rule text even if
// validation were bypassed) and resolves each WAN and group member to its
// fwmark; the backends only print it, as iptables-restore lines or nft
// text.
type marking struct {
	mask  mark.Mask
	wans  []wanMark // every WAN of the plan: inbound, restore and egress marking
	rules []policyRule
	def   verdict // traffic no policy rule catches (IPv4)
	def6  verdict // the same for IPv6
	// hashed: Application Optimized Routing, whose buckets jump to one
	// chain per WAN.
	hashed bool
	// dns pins the WANs' resolvers: a new connection to one gets its WAN's
	// mark before any policy rule is looked at.
	dns []dnsPin
}

// dnsPin is one resolver and the WAN whose mark new connections to it get.
// Pinning by mark, not by an ip rule on the destination, keeps a
// connection's route and its conntrack mark (hence its NAT) in agreement:
// a query that left by another WAN while the resolver's own was down
// keeps that WAN until its entry expires, as every connection does,
// instead of being routed into its own WAN again with the other's source
// address.
type dnsPin struct {
	addr netip.Addr
	wan  string
	mark uint32
}

type wanMark struct {
	name, device string
	mark         uint32 // the fwmark value inside mask
	device6      string // the IPv6 side's device; "" without one
}

// devices are the devices a WAN's traffic leaves and arrives by: the IPv4
// one and, when it differs, the IPv6 side's.
func (w wanMark) devices() []string {
	if w.device6 == "" || w.device6 == w.device {
		return []string{w.device}
	}
	return []string{w.device, w.device6}
}

type policyRule struct {
	rule config.Rule
	to   verdict // IPv4
	to6  verdict // IPv6
}

// verdict is what a group does with a new connection.
type verdict struct {
	action  plan.Action
	fixed   uint32       // Unreachable, Blackhole: the reserved mark
	members []memberMark // Balance
	buckets []string     // Balance by hash: the WAN of each of plan.Buckets
}

type memberMark struct {
	wan   string
	mark  uint32
	share float64
}

var (
	sectionIDRe = regexp.MustCompile(`^(@rule\[[0-9]+\]|[A-Za-z0-9_]{1,32})$`)
	// WAN names become chain names and comments.
	wanNameRe = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)
)

// newMarking builds the marking of an enabled plan.
func newMarking(p *plan.Plan) (*marking, error) {
	m := p.MarkMask
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("mark mask %v: %w", m, err)
	}
	k := &marking{mask: m, hashed: p.AppOptimized}
	marksOf := map[string]uint32{}
	for _, w := range p.WANs {
		if !wanNameRe.MatchString(w.Name) {
			return nil, fmt.Errorf("wan %q: not a UCI section name", w.Name)
		}
		if !config.ValidDevice(w.Device) {
			return nil, fmt.Errorf("wan %s: device %q is not a valid device name", w.Name, w.Device)
		}
		if !m.IsWAN(w.Mark) {
			return nil, fmt.Errorf("wan %s: mark index %d outside the mask", w.Name, w.Mark)
		}
		marksOf[w.Name] = m.Value(w.Mark)
		wm := wanMark{name: w.Name, device: w.Device, mark: m.Value(w.Mark)}
		if w.Has6 {
			if !config.ValidDevice(w.Device6) {
				return nil, fmt.Errorf("wan %s: IPv6 device %q is not a valid device name", w.Name, w.Device6)
			}
			wm.device6 = w.Device6
		}
		k.wans = append(k.wans, wm)
		for _, a := range w.DNS {
			if !a.IsValid() || a.Zone() != "" || a.Is4In6() {
				return nil, fmt.Errorf("wan %s: DNS server %v is not an address wanlb pins", w.Name, a)
			}
			// A resolver two WANs report (both set 'option dns' to the
			// same public one) is pinned to the first.
			if (a.Is4() || w.Has6) && !slices.ContainsFunc(k.dns, func(d dnsPin) bool { return d.addr == a }) {
				k.dns = append(k.dns, dnsPin{addr: a, wan: w.Name, mark: wm.mark})
			}
		}
	}
	group := func(g plan.Group) (verdict, error) {
		v := verdict{action: g.Action}
		switch g.Action {
		case plan.Unreachable:
			v.fixed = m.Value(m.Unreachable())
		case plan.Blackhole:
			v.fixed = m.Value(m.Blackhole())
		case plan.Balance:
			for _, mem := range g.Members {
				mv, ok := marksOf[mem.WAN]
				if !ok {
					return v, fmt.Errorf("group member %s has no mark", mem.WAN)
				}
				v.members = append(v.members, memberMark{wan: mem.WAN, mark: mv, share: mem.Share})
			}
			if len(g.Buckets) > 0 && len(g.Members) > 1 {
				if len(g.Buckets) != plan.Buckets {
					return v, fmt.Errorf("%d hash buckets, want %d", len(g.Buckets), plan.Buckets)
				}
				for _, w := range g.Buckets {
					if _, ok := marksOf[w]; !ok {
						return v, fmt.Errorf("hash bucket of %s, which has no mark", w)
					}
				}
				v.buckets = g.Buckets
			}
		}
		return v, nil
	}
	for _, r := range p.Rules {
		if !sectionIDRe.MatchString(r.Rule.ID) {
			return nil, fmt.Errorf("rule id %q is not a UCI section id", r.Rule.ID)
		}
		v, err := group(r.Group)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.Rule.ID, err)
		}
		v6, err := group(r.Group6)
		if err != nil {
			return nil, fmt.Errorf("rule %s (IPv6): %w", r.Rule.ID, err)
		}
		k.rules = append(k.rules, policyRule{rule: r.Rule, to: v, to6: v6})
	}
	var err error
	if k.def, err = group(p.Default); err != nil {
		return nil, fmt.Errorf("default group: %w", err)
	}
	if k.def6, err = group(p.Default6); err != nil {
		return nil, fmt.Errorf("IPv6 default group: %w", err)
	}
	return k, nil
}
