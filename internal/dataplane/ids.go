package dataplane

import "github.com/wanlb/wanlb/internal/mark"

// Every number wanlb puts into the kernel, and why it was chosen. The
// neighbours we must not collide with:
//
//   - mwan3: marks 0x3f00; ip rules 1001-1250 (iif), 2001-2250 (fwmark),
//     3001+; tables 1..250.
//   - pbr: marks 0xff0000; its own tables and rules near 30000.
//   - Tailscale: marks in 0xff0000 (0x40000, 0x80000); rules 5210-5270
//     (1300s when it sees mwan3); table 52 with tailnet routes only.
//   - Kubernetes: marks 0x4000 and 0x8000.
//   - netifd: ip4table rules from 10000 and 20000; main 32766, default 32767.
//   - kernel: tables 253 (default), 254 (main), 255 (local).
//
// IPv6 uses the same numbers: a WAN's table holds its IPv4 and its IPv6
// default route, and `ip -6 rule` has the same priorities as `ip rule`.
const (
	// ChainPrefix starts the name of every iptables chain wanlb owns; stale
	// chains are found by it, so nobody else's chain is ever touched.
	ChainPrefix = "wanlb_"

	// RulePrioBase is where wanlb's ip rules start. It sits after
	// Tailscale's 5210-5270, so a VPN's own table keeps winning for its
	// destinations (mwan3 put its rules before Tailscale's and stole
	// tailnet traffic), and before netifd's 10000+ and main's 32766.
	RulePrioBase = 6000
	// RulePrioSuppress: "lookup main suppress_prefixlength 0" comes first,
	// so destinations with a specific route in main (LAN, connected
	// networks, VPN routes) use it without copying routes into every WAN
	// table; only default-route traffic reaches the fwmark rules.
	RulePrioSuppress = RulePrioBase
	// (Priority 6010 held "to <resolver> lookup <WAN table>" rules before
	// the resolvers were pinned by mark, in the decide chain: a rule on
	// the destination routed a connection that had left by another WAN
	// during an outage into its resolver's WAN again, with the other
	// WAN's source address. Being in wanlb's range, such rules left by an
	// older version are deleted by the first apply.)
	// RulePrioMark + i is the fwmark rule of mark index i (i <= 255, as
	// the mark mask has at most 8 bits); the range ends at RulePrioEnd.
	RulePrioMark = RulePrioBase + 100
	RulePrioEnd  = RulePrioMark + 256

	// TableBase + mark index is the routing table of that mark: 3001..3255,
	// clear of mwan3 (1..250), Tailscale (52) and the kernel's 253-255.
	TableBase = 3000
	TableEnd  = TableBase + 256

	// MaxMaskBits bounds the mark mask so indexes fit the ranges above.
	MaxMaskBits = mark.MaxBits
)

func table(i uint32) int { return TableBase + int(i) }

// owned reports whether an ip rule is wanlb's: in its priority range and
// pointing at its tables, or its "lookup main" rule. Flush deletes exactly
// these.
func owned(r IPRule) bool {
	return r.Priority >= RulePrioBase && r.Priority < RulePrioEnd &&
		(ownedTable(r.Table) || (r.Priority == RulePrioSuppress && r.Table == tableMain && r.Suppress))
}

func ownedTable(t int) bool { return t >= TableBase && t < TableEnd }
