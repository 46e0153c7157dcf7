package prefix6

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// System reads and changes the kernel's addresses over netlink, in the
// calling thread's network namespace.
type System struct{}

// lookupDst is the destination of the route lookups that tell which WAN
// a LAN address leaves by: any global address outside the LAN will do
// (no packet is sent); Cloudflare's resolver, as the auto targets use.
var lookupDst = net.ParseIP("2606:4700:4700::1111")

// Addrs lists the router's global unicast IPv6 addresses on devices skip
// does not skip (the WANs'), with their lifetimes and the device the main table sends
// their traffic out by. ULAs are left out: they are no ISP's.
func (System) Addrs(skip func(dev string) bool) ([]Addr, error) {
	list, err := netlink.AddrList(nil, netlink.FAMILY_V6)
	if err != nil {
		return nil, fmt.Errorf("list IPv6 addresses: %w", err)
	}
	names := map[int]string{}
	var out []Addr
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || !ip.IsGlobalUnicast() || ip.IsPrivate() || a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
			continue
		}
		name, ok := names[a.LinkIndex]
		if !ok {
			l, err := netlink.LinkByIndex(a.LinkIndex)
			if err != nil {
				continue
			}
			name = l.Attrs().Name
			names[a.LinkIndex] = name
		}
		if skip != nil && skip(name) {
			continue
		}
		ones, _ := a.Mask.Size()
		x := Addr{Dev: name, Prefix: netip.PrefixFrom(ip, ones), Preferred: uint32(a.PreferedLft), Valid: uint32(a.ValidLft),
			flags: a.Flags &^ unix.IFA_F_DEPRECATED}
		routes, err := netlink.RouteGetWithOptions(lookupDst, &netlink.RouteGetOptions{SrcAddr: a.IP})
		if err == nil && len(routes) > 0 {
			if l, err := netlink.LinkByIndex(routes[0].LinkIndex); err == nil {
				x.Out = l.Attrs().Name
			}
		}
		out = append(out, x)
	}
	return out, nil
}

// SetPreferred gives a its preferred lifetime p (seconds, Forever), its
// valid lifetime unchanged.
func (System) SetPreferred(a Addr, p uint32) error {
	l, err := netlink.LinkByName(a.Dev)
	if err != nil {
		return fmt.Errorf("%s: %w", a.Dev, err)
	}
	ip := a.Prefix.Addr()
	na := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(a.Prefix.Bits(), 128)},
		PreferedLft: lifetime(p), ValidLft: lifetime(a.Valid), Flags: a.flags}
	if err := netlink.AddrReplace(l, na); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // gone meanwhile
		}
		return fmt.Errorf("set preferred lifetime of %s on %s to %d: %w", a.Prefix, a.Dev, p, err)
	}
	return nil
}

// lifetime converts a lifetime for the netlink library, which takes an
// int: on a 32-bit router (MIPS, ARM) Forever (0xffffffff) does not fit and
// becomes the largest int, 68 years, which the kernel keeps as finite but
// no host will outlive. The library ignores values <= 0, so -1 would not do.
func lifetime(v uint32) int {
	if uint64(v) > uint64(math.MaxInt) {
		return math.MaxInt
	}
	return int(v)
}
