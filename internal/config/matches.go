package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

func (r *section) addrs(name string) []AddrMatch {
	var out []AddrMatch
	for _, s := range r.list(name) {
		m, err := ParseAddrMatch(s)
		if err != nil {
			r.fail(name, s, err.Error())
			continue
		}
		out = append(out, m)
	}
	return out
}

// ParseAddrMatch reads an IPv4 or IPv6 address, CIDR or a-b range (both
// ends of one family).
func ParseAddrMatch(s string) (AddrMatch, error) {
	const want = "must be an IPv4 or IPv6 address, CIDR or range"
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(from)
		b, err2 := netip.ParseAddr(to)
		if err1 != nil || err2 != nil || a.Zone() != "" || b.Zone() != "" || a.Is4In6() || b.Is4In6() {
			return AddrMatch{}, fmt.Errorf("must be a range like 198.18.0.10-198.18.0.20 or 2001:db8::10-2001:db8::20")
		}
		if a.Is4() != b.Is4() {
			return AddrMatch{}, fmt.Errorf("range mixes IPv4 and IPv6")
		}
		if b.Less(a) {
			return AddrMatch{}, fmt.Errorf("range ends before it starts")
		}
		return AddrMatch{From: a, To: b}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Is4In6() {
			return AddrMatch{}, fmt.Errorf(want)
		}
		return AddrMatch{Prefix: p.Masked()}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return AddrMatch{}, fmt.Errorf(want)
	}
	return AddrMatch{Prefix: netip.PrefixFrom(a, a.BitLen())}, nil
}

func (r *section) ports(name string) []PortRange {
	s, ok := r.value(name)
	if !ok {
		return nil
	}
	var out []PortRange
	for _, f := range strings.Fields(strings.ReplaceAll(s, ",", " ")) {
		from, to, isRange := strings.Cut(f, "-")
		if !isRange {
			to = from
		}
		a, err1 := strconv.ParseUint(from, 10, 16)
		b, err2 := strconv.ParseUint(to, 10, 16)
		if err1 != nil || err2 != nil || a == 0 || b == 0 || b < a {
			r.fail(name, s, "must be ports 1-65535: '80', '80 443' or '10000-20000'")
			return nil
		}
		out = append(out, PortRange{uint16(a), uint16(b)})
	}
	return out
}
