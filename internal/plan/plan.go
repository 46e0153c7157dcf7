// Package plan decides who carries what: a pure function from the config,
// each WAN's state, the previous plan and the time to a Plan that says
// which WANs receive new connections, with which share, for the default
// traffic and for every policy rule. It does no I/O; the dataplane package
// turns a Plan into kernel state.
package plan

import (
	"net/netip"
	"slices"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/mark"
)

// WANState is what the rest of the daemon knows about one WAN right now.
type WANState struct {
	Device  string       // L3 device; "" when unknown (the WAN is then left out)
	Gateway netip.Addr   // next hop; invalid for point-to-point links
	Carrier bool         // the device is up and has carrier
	Online  bool         // online detection says the WAN reaches the internet
	DNS     []netip.Addr // DNS servers learned on this WAN, both families (netifd: DHCP, DHCPv6, PPP or static 'option dns')
	// The IPv6 side: Has6 when the WAN has one now (an IPv6 default route
	// from netifd, or gateway6 in the config), by Device6 via Gateway6
	// (invalid: a device route).
	Has6     bool
	Device6  string
	Gateway6 netip.Addr
	// Probed6: the IPv6 side is judged by probes of its own, and Online6
	// says whether it reaches the internet; otherwise it follows Online.
	Probed6 bool
	Online6 bool
}

// Input is everything Compute looks at.
type Input struct {
	Config *config.Config
	States map[string]WANState // by WAN name; missing = no device, no carrier
	Prev   *Plan               // nil on start; keeps marks stable and remembers revert 0 take-overs
	// Marks are the mark indexes WANs already hold, by WAN name, when
	// there is no previous plan to say so: after a restart, the marks a
	// previous daemon left in the kernel, so existing connections keep
	// their WAN. Prev's marks win over these.
	Marks map[string]uint32
	Now   time.Time
}

// Action is what a group does with a new connection.
type Action int

// Group actions.
const (
	Balance     Action = iota // pick a member by share
	Main                      // leave it unmarked: the main routing table decides
	Unreachable               // refuse with ICMP unreachable
	Blackhole                 // drop silently
)

func (a Action) String() string {
	return [...]string{"balance", "main", "unreachable", "blackhole"}[a]
}

// Member is one WAN of a group and its share of the group's new connections.
type Member struct {
	WAN   string
	Share float64
}

// Group is a set of WANs new connections are spread over.
type Group struct {
	Action  Action
	Members []Member // only for Balance; shares sum to 1
	// Buckets, with Application Optimized Routing and more than one
	// member, gives the WAN of each of the Buckets hash buckets of a
	// source+destination pair (see HashBuckets); nil otherwise.
	Buckets []string
}

// RuleGroup is an enabled policy rule and where its traffic goes now:
// Group for IPv4, Group6 for IPv6.
type RuleGroup struct {
	Rule   config.Rule
	Group  Group
	Group6 Group
}

// WAN is one WAN as the data plane sees it.
type WAN struct {
	Name    string
	Mark    uint32 // index inside the mark mask, 1..MarkMask.MaxIndex()
	Device  string
	Gateway netip.Addr
	// DNS are the WAN's resolvers to pin to it (reached through this WAN
	// whatever the balancing says), IPv4 and IPv6: a family's are left out
	// while that side of the WAN carries nothing because it is down, so the
	// router's and the LAN's queries to them go out through the WANs that
	// are up instead of into a dead link (see pinnedDNS).
	DNS     []netip.Addr
	Usable  bool    // enabled, carrier, online
	Standby bool    // held back by a link backup entry
	Active  bool    // receives new connections now
	Share   float64 // of the default traffic
	// Has6: the WAN carries IPv6 too, by Device6 via Gateway6.
	Has6     bool
	Device6  string
	Gateway6 netip.Addr
	Usable6  bool // Has6, carrier, and its IPv6 side online
}

// Plan is the complete decision for one moment.
type Plan struct {
	Enabled      bool
	MarkMask     mark.Mask
	AppOptimized bool
	WANs         []WAN // enabled WANs with a known device, file order
	Default      Group
	// Default6 is Default for IPv6: over the WANs with an IPv6 side, Main
	// when no WAN has one (IPv6 is then left to the main table).
	Default6 Group
	Rules    []RuleGroup // enabled rules, file order
	// Engaged lists the link backup entries whose backups carry traffic,
	// so that with revert 0 they keep it after the primaries recover.
	Engaged []string
}

// WAN returns the plan's WAN by name.
func (p *Plan) WAN(name string) (*WAN, bool) {
	for i := range p.WANs {
		if p.WANs[i].Name == name {
			return &p.WANs[i], true
		}
	}
	return nil, false
}

// Compute builds the Plan. It never fails: a valid config always has an
// answer, if only the last resort.
func Compute(in Input) *Plan {
	c := in.Config
	p := &Plan{Enabled: c.Globals.Enabled, MarkMask: c.Globals.MarkMask, AppOptimized: c.Globals.AppOptimized}
	if !p.Enabled {
		return p
	}
	usable := map[string]bool{}
	carrier := map[string]bool{}
	for _, w := range c.WANs {
		st := in.States[w.Name]
		if !w.Enabled || st.Device == "" {
			continue
		}
		carrier[w.Name] = st.Carrier
		usable[w.Name] = st.Carrier && (st.Online || w.Detection == config.DetectAlwaysOnline)
		pw := WAN{Name: w.Name, Device: st.Device, Gateway: st.Gateway, DNS: st.DNS, Usable: usable[w.Name]}
		if w.IPv6 && st.Has6 && st.Device6 != "" {
			pw.Has6, pw.Device6, pw.Gateway6 = true, st.Device6, st.Gateway6
			pw.Usable6 = usable6(w, st)
		}
		p.WANs = append(p.WANs, pw)
	}
	assignMarks(p, in.Prev, in.Marks)

	standby, engaged := linkBackup(c, usable, in.Prev, in.Now)
	p.Engaged = engaged

	var candidates []string
	for _, w := range p.WANs {
		if usable[w.Name] && !standby[w.Name] {
			candidates = append(candidates, w.Name)
		}
	}
	if len(candidates) == 0 {
		// Overlapping entries can hold back every usable WAN; never
		// let that cut the internet.
		candidates = filter(p.WANs, usable)
	}
	if len(candidates) == 0 {
		// Probe targets can be down while the links work: keep using
		// every WAN that has carrier rather than cutting the internet.
		candidates = filter(p.WANs, carrier)
	}
	if !c.Globals.LoadBalancing && len(candidates) > 1 {
		candidates = candidates[:1]
	}
	p.Default = balance(c, candidates, lastResort(c.Globals.LastResort))

	for _, r := range c.Rules {
		if !r.Enabled {
			continue
		}
		var set []string
		for _, name := range r.WANs {
			// Standby does not apply: a rule is the user's explicit
			// instruction to use these WANs.
			if usable[name] {
				set = append(set, name)
			}
		}
		g := balance(c, set, Blackhole)
		if len(set) == 0 && r.Fallback {
			g = p.Default
		}
		p.Rules = append(p.Rules, RuleGroup{Rule: r, Group: g})
	}

	ipv6Groups(c, p, usable, carrier, standby)

	// The WANs that receive new connections, per family.
	active4, active6 := map[string]bool{}, map[string]bool{}
	activate := func(set map[string]bool, g Group) {
		for _, m := range g.Members {
			set[m.WAN] = true
		}
	}
	activate(active4, p.Default)
	activate(active6, p.Default6)
	for _, r := range p.Rules {
		activate(active4, r.Group)
		activate(active6, r.Group6)
	}
	routed := c.Globals.IPv6Mode == config.IPv6Routed
	for i := range p.WANs {
		w := &p.WANs[i]
		w.Standby = standby[w.Name]
		w.Active = active4[w.Name] || active6[w.Name]
		w.DNS = pinnedDNS(w, active4[w.Name], active6[w.Name], routed)
		for _, m := range p.Default.Members {
			if m.WAN == w.Name {
				w.Share = m.Share
			}
		}
	}
	return p
}

// pinnedDNS is the part of w's resolvers that the data plane pins to w.
// A family's resolvers are pinned while that side of w is usable (a standby
// backup too: ISPs often refuse queries from other networks) or carries
// traffic as a last resort; otherwise queries to them follow the balancing
// through the WANs that work instead of dying in a dead link. IPv6 ones
// need w's IPv6 side, and are never pinned in routed mode: there a query's
// source address, from one ISP's prefix, decides its WAN (netifd's
// source-specific routes), and a pin to the other ISP would send it where
// that source is not routed.
func pinnedDNS(w *WAN, active4, active6, routed bool) []netip.Addr {
	var out []netip.Addr
	for _, a := range w.DNS {
		if a.Is4() && (w.Usable || active4) || a.Is6() && w.Has6 && !routed && (w.Usable6 || active6) {
			out = append(out, a)
		}
	}
	return out
}

func filter(ws []WAN, keep map[string]bool) []string {
	var out []string
	for _, w := range ws {
		if keep[w.Name] {
			out = append(out, w.Name)
		}
	}
	return out
}

func lastResort(l config.LastResort) Action {
	switch l {
	case config.LastResortUnreachable:
		return Unreachable
	case config.LastResortBlackhole:
		return Blackhole
	}
	return Main
}

// balance shares new connections over names by weight, or by downstream
// bandwidth when bandwidth_based is on; with Application Optimized Routing
// it also decides which WAN each hash bucket goes to.
func balance(c *config.Config, names []string, empty Action) Group {
	if len(names) == 0 {
		return Group{Action: empty}
	}
	g := Group{Action: Balance}
	total := 0.0
	for _, n := range names {
		w, _ := c.WAN(n)
		v := float64(w.Weight)
		if c.Globals.BandwidthBased {
			v = float64(w.Downstream)
		}
		g.Members = append(g.Members, Member{WAN: n, Share: v})
		total += v
	}
	for i := range g.Members {
		g.Members[i].Share /= total
	}
	if c.Globals.AppOptimized && len(g.Members) > 1 {
		g.Buckets = HashBuckets(g.Members)
	}
	return g
}

// assignMarks gives every WAN a mark index, keeping the one it had in the
// previous plan, or else the one it holds in the kernel: a connection's
// mark is its WAN for life, so a WAN's mark must not change when another
// WAN is added or removed, nor when the daemon restarts.
func assignMarks(p *Plan, prev *Plan, held map[string]uint32) {
	used := map[uint32]bool{}
	keep := func(i int, m uint32) {
		if p.WANs[i].Mark == 0 && p.MarkMask.IsWAN(m) && !used[m] {
			p.WANs[i].Mark = m
			used[m] = true
		}
	}
	if prev != nil && prev.MarkMask == p.MarkMask {
		for i := range p.WANs {
			if old, ok := prev.WAN(p.WANs[i].Name); ok {
				keep(i, old.Mark)
			}
		}
	}
	for i := range p.WANs {
		if m, ok := held[p.WANs[i].Name]; ok {
			keep(i, m)
		}
	}
	next := uint32(1)
	for i := range p.WANs {
		if p.WANs[i].Mark != 0 {
			continue
		}
		for used[next] {
			next++
		}
		// Validation guarantees room for every configured WAN.
		p.WANs[i].Mark = next
		used[next] = true
	}
}

// linkBackup works out which WANs link backup entries hold back, and which
// entries have their backups carrying traffic.
//
// Failover: an entry triggers when any (or all) of its primaries are not
// usable; its backups then join the active WANs and the primaries that
// still work keep carrying too. With revert 0 an entry that took over
// stays engaged after the primaries recover, and then its primaries stand
// by, until no backup is usable. Timing: inside the effective time the
// backups carry the primaries' traffic (the primaries stand by) as long
// as a backup is usable. Outside its effective time an entry does nothing.
func linkBackup(c *config.Config, usable map[string]bool, prev *Plan, now time.Time) (standby map[string]bool, engaged []string) {
	idle := map[string]bool{}      // backups of effective entries that are not engaged
	carrying := map[string]bool{}  // backups of engaged entries
	takenOver := map[string]bool{} // primaries whose traffic the backups took
	anyUsable := func(ns []string) bool { return slices.ContainsFunc(ns, func(n string) bool { return usable[n] }) }
	allUsable := func(ns []string) bool { return !slices.ContainsFunc(ns, func(n string) bool { return !usable[n] }) }

	for _, e := range c.LinkBackups {
		if !e.Enabled || !e.Schedule.Contains(now) {
			continue
		}
		backupUp := anyUsable(e.Backup)
		var on, takeover bool
		switch e.Mode {
		case config.ModeTiming:
			on, takeover = backupUp, backupUp
		default:
			triggered := !allUsable(e.Primary)
			if e.TriggerAll {
				triggered = !anyUsable(e.Primary)
			}
			was := prev != nil && slices.Contains(prev.Engaged, e.ID)
			on = backupUp && (triggered || (!e.Revert && was))
			takeover = on && !triggered
		}
		for _, b := range e.Backup {
			if on {
				carrying[b] = true
			} else {
				idle[b] = true
			}
		}
		if on {
			engaged = append(engaged, e.ID)
		}
		if takeover {
			for _, pr := range e.Primary {
				takenOver[pr] = true
			}
		}
	}
	standby = map[string]bool{}
	for n := range idle {
		standby[n] = true
	}
	for n := range takenOver {
		standby[n] = true
	}
	for n := range carrying {
		delete(standby, n)
	}
	return standby, engaged
}
