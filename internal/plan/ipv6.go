package plan

import "github.com/wanlb/wanlb/internal/config"

// ipv6Groups decides where new IPv6 connections go: the same decision as
// for IPv4, over the WANs whose IPv6 side is usable (its own state when it
// is probed on its own, else the WAN's), so a WAN with working IPv4 and
// dead IPv6 keeps its IPv4 and loses its IPv6. When no WAN has one, IPv6 is not wanlb's to
// steer and every group is Main, so a router without IPv6 uplinks (or
// with IPv6 through a tunnel wanlb does not manage) keeps its IPv6 as it
// was, whatever last_resort says.
//
// In ipv6_mode 'routed' every group is Main too: a host's source address
// is from one ISP's prefix and only that ISP routes its answers, so new
// connections are left to the main table, where netifd's source-specific
// default routes send each prefix to its own WAN. (Inbound connections
// still keep their WAN: the data plane marks them on arrival.)
func ipv6Groups(c *config.Config, p *Plan, usable, carrier, standby map[string]bool) {
	has6 := map[string]bool{}
	for _, w := range p.WANs {
		if w.Has6 {
			has6[w.Name] = true
		}
	}
	if len(has6) == 0 || c.Globals.IPv6Mode == config.IPv6Routed {
		p.Default6 = Group{Action: Main}
		for i := range p.Rules {
			p.Rules[i].Group6 = Group{Action: Main}
		}
		return
	}
	both := func(a, b map[string]bool) map[string]bool {
		out := map[string]bool{}
		for n := range a {
			out[n] = a[n] && b[n]
		}
		return out
	}
	usable6 := map[string]bool{}
	for _, w := range p.WANs {
		usable6[w.Name] = w.Usable6
	}
	var candidates []string
	for _, w := range p.WANs {
		if usable6[w.Name] && !standby[w.Name] {
			candidates = append(candidates, w.Name)
		}
	}
	if len(candidates) == 0 {
		candidates = filter(p.WANs, usable6)
	}
	if len(candidates) == 0 {
		candidates = filter(p.WANs, both(carrier, has6))
	}
	if !c.Globals.LoadBalancing && len(candidates) > 1 {
		candidates = candidates[:1]
	}
	p.Default6 = balance(c, candidates, lastResort(c.Globals.LastResort))
	for i := range p.Rules {
		r := &p.Rules[i]
		var set []string
		for _, name := range r.Rule.WANs {
			if usable6[name] {
				set = append(set, name)
			}
		}
		r.Group6 = balance(c, set, Blackhole)
		if len(set) == 0 && r.Rule.Fallback {
			r.Group6 = p.Default6
		}
	}
}

// usable6 is whether w's IPv6 side (present) can take new connections.
func usable6(w config.WAN, st WANState) bool {
	online := st.Online
	if st.Probed6 {
		online = st.Online6
	}
	return st.Carrier && (online || w.Detection == config.DetectAlwaysOnline)
}
