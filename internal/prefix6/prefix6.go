// Package prefix6 steers LAN hosts away from a dead ISP's IPv6 prefix in
// routed IPv6 mode. There, hosts hold an address from each ISP's delegated
// prefix and pick the source address of a new connection themselves; the
// router cannot move a connection to another prefix. What it can do is
// stop recommending the dead ISP's prefix: it sets the preferred lifetime
// of its own LAN address from that prefix to 0, and the router
// advertisement daemon (OpenWrt's odhcpd takes the lifetimes of its
// prefix information options from the interface's addresses, and sends a
// new advertisement within a second of an address change) advertises the
// prefix as deprecated. Hosts then deprecate their addresses from it
// (RFC 4862 5.5.3) and choose the other prefix for new connections (RFC
// 6724 rule 3). On recovery the address's preferred lifetime comes back.
//
// Which WAN a LAN address belongs to is the kernel's answer: the main
// table's source-specific default routes (netifd's "default from
// <prefix>", one per delegated prefix) send it out by one WAN's device.
//
// Decide is pure; System does the netlink work.
package prefix6

import (
	"net/netip"
	"time"
)

// Forever is the lifetime of an address that never expires.
const Forever = ^uint32(0)

// Addr is one of the router's global IPv6 LAN addresses.
type Addr struct {
	Dev    string       // the LAN device holding it
	Prefix netip.Prefix // the address and its prefix length
	// Preferred and Valid are the lifetimes left, in seconds (Forever).
	Preferred, Valid uint32
	// Out is the device the main table sends its traffic out by: the WAN
	// whose prefix it is from ("" when no route claims it).
	Out string
	// flags are the kernel's (IFA_F_*), kept when the lifetime changes:
	// replacing an address without noprefixroute would add a prefix route.
	flags int
}

// Saved is what a deprecated address had, to give it back.
type Saved struct {
	Preferred uint32
	At        time.Time
}

// Change sets one address's preferred lifetime.
type Change struct {
	Addr      Addr
	Preferred uint32
	Restore   bool // back to what it had
}

// Decide says which addresses to deprecate (their WAN is in dead) and which
// to give their preferred lifetime back (deprecated by us, WAN alive again
// or no longer claiming them), from the addresses now and the ones saved
// (by prefix). It returns the changes and the saved set after them. An
// address whose preferred lifetime came back by someone else's hand
// (netifd refreshing it on a prefix renewal) while its WAN is still dead
// is deprecated again, and what it now has is saved.
func Decide(addrs []Addr, dead map[string]bool, saved map[netip.Prefix]Saved, now time.Time) ([]Change, map[netip.Prefix]Saved) {
	next := map[netip.Prefix]Saved{}
	var out []Change
	for _, a := range addrs {
		s, was := saved[a.Prefix]
		switch {
		case a.Out != "" && dead[a.Out]:
			if a.Preferred == 0 && was {
				next[a.Prefix] = s
				continue
			}
			if a.Preferred == 0 {
				continue // deprecated already, not by us: nothing to give back
			}
			next[a.Prefix] = Saved{Preferred: a.Preferred, At: now}
			out = append(out, Change{Addr: a, Preferred: 0})
		case was:
			out = append(out, Change{Addr: a, Preferred: s.left(now, a.Valid), Restore: true})
		}
	}
	// An address gone (netifd removed it) needs nothing back.
	return out, next
}

// left is the preferred lifetime to give back: what was saved minus the
// time since, never more than valid; Forever stays Forever.
func (s Saved) left(now time.Time, valid uint32) uint32 {
	p := s.Preferred
	if p != Forever {
		gone := uint32(max(now.Sub(s.At), 0) / time.Second)
		if gone >= p {
			p = 0
		} else {
			p -= gone
		}
	}
	if valid != Forever && (p == Forever || p > valid) {
		p = valid
	}
	return p
}
