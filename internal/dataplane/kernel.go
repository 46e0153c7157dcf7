package dataplane

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// IPTables is the real Firewall: go-iptables for detection, listing and
// the hook jumps, and one iptables-restore process per transaction.
type IPTables struct {
	ipt     *iptables.IPTables
	restore string // path of the iptables-restore that matches ipt
}

// NewIPTables finds iptables (whichever backend, nft or legacy, the system
// uses) and the iptables-restore beside it.
func NewIPTables() (*IPTables, error) { return newIPTables(iptables.ProtocolIPv4, "iptables") }

// NewIP6Tables is NewIPTables for ip6tables and ip6tables-restore.
func NewIP6Tables() (*IPTables, error) { return newIPTables(iptables.ProtocolIPv6, "ip6tables") }

func newIPTables(proto iptables.Protocol, name string) (*IPTables, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ipt, err := iptables.New(iptables.IPFamily(proto), iptables.Path(path), iptables.Timeout(10))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// The restore program from the same directory uses the same backend
	// as the iptables go-iptables found.
	restore := filepath.Join(filepath.Dir(path), name+"-restore")
	if _, err := os.Stat(restore); err != nil {
		if restore, err = exec.LookPath(name + "-restore"); err != nil {
			return nil, fmt.Errorf("%s-restore: %w", name, err)
		}
	}
	return &IPTables{ipt: ipt, restore: restore}, nil
}

var restoreLineRe = regexp.MustCompile(`line:? (\d+) failed`)

// Restore runs iptables-restore --noflush with data on stdin. A failed
// transaction changes nothing; the error quotes the failing line and its
// neighbours.
func (t *IPTables) Restore(data []byte) error {
	cmd := exec.Command(t.restore, "-w", "10", "--noflush")
	cmd.Stdin = bytes.NewReader(data)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if m := restoreLineRe.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			msg += "\n" + excerpt(data, n)
		}
		return fmt.Errorf("%s: %w: %s", filepath.Base(t.restore), err, msg)
	}
	return nil
}

// excerpt shows line n (1-based) of data with one line either side.
func excerpt(data []byte, n int) string {
	lines := strings.Split(string(data), "\n")
	var b strings.Builder
	for i := max(n-2, 0); i < min(n+1, len(lines)); i++ {
		marker := "   "
		if i == n-1 {
			marker = ">> "
		}
		fmt.Fprintf(&b, "%s%4d %s\n", marker, i+1, lines[i])
	}
	return b.String()
}

// ListChains lists the chains of table.
func (t *IPTables) ListChains(table string) ([]string, error) {
	return t.ipt.ListChains(table)
}

// EnsureJump inserts rule at the top of builtin unless it is there.
func (t *IPTables) EnsureJump(table, builtin string, rule []string) error {
	ok, err := t.ipt.Exists(table, builtin, rule...)
	if err != nil || ok {
		return err
	}
	return t.ipt.Insert(table, builtin, 1, rule...)
}

// HasJump reports whether builtin holds rule; a missing chain is false.
func (t *IPTables) HasJump(table, builtin string, rule []string) (bool, error) {
	ok, err := t.ipt.ChainExists(table, rule[len(rule)-1])
	if err != nil || !ok {
		return false, err
	}
	return t.ipt.Exists(table, builtin, rule...)
}

// DeleteJump removes rule from builtin if it is there. iptables cannot even
// check for a jump to a chain that does not exist, and then there is no
// jump to delete.
func (t *IPTables) DeleteJump(table, builtin string, rule []string) error {
	ok, err := t.ipt.ChainExists(table, rule[len(rule)-1])
	if err != nil || !ok {
		return err
	}
	return t.ipt.DeleteIfExists(table, builtin, rule...)
}

// Netlink is the real Routing, over a netlink handle (of a namespace, in
// tests).
type Netlink struct{ h *netlink.Handle }

// NewNetlink opens a netlink handle in the current network namespace.
func NewNetlink() (*Netlink, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return &Netlink{h: h}, nil
}

// Close releases the handle.
func (n *Netlink) Close() { n.h.Close() }

// retry repeats a dump the kernel interrupted because the table changed
// underneath it.
func retry[T any](f func() (T, error)) (T, error) {
	var v T
	var err error
	for i := 0; i < 5; i++ {
		if v, err = f(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

// Rules lists wanlb's IPv4 and IPv6 rules: its priority range and tables.
func (n *Netlink) Rules() ([]IPRule, error) {
	var out []IPRule
	for _, v6 := range []bool{false, true} {
		rs, err := n.rules(v6)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

func family(v6 bool) int {
	if v6 {
		return netlink.FAMILY_V6
	}
	return netlink.FAMILY_V4
}

func (n *Netlink) rules(v6 bool) ([]IPRule, error) {
	rs, err := retry(func() ([]netlink.Rule, error) { return n.h.RuleList(family(v6)) })
	if err != nil {
		if v6 && errors.Is(err, syscall.EAFNOSUPPORT) {
			return nil, nil // a kernel without IPv6
		}
		return nil, err
	}
	var out []IPRule
	for _, r := range rs {
		ir := IPRule{Priority: r.Priority, Table: r.Table, Mark: r.Mark, Suppress: r.SuppressPrefixlen == 0, V6: v6}
		if r.Mask != nil {
			ir.Mask = *r.Mask
		}
		if r.Dst != nil {
			if a, ok := netip.AddrFromSlice(r.Dst.IP); ok {
				ones, _ := r.Dst.Mask.Size()
				ir.Dst = netip.PrefixFrom(a.Unmap(), ones)
			}
		}
		if owned(ir) {
			out = append(out, ir)
		}
	}
	return out, nil
}

func (n *Netlink) rule(r IPRule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = family(r.V6)
	nr.Priority = r.Priority
	nr.Table = r.Table
	if r.Mask != 0 {
		nr.Mark = r.Mark
		mask := r.Mask
		nr.Mask = &mask
	}
	if r.Suppress {
		nr.SuppressPrefixlen = 0
	}
	if r.Dst.IsValid() {
		nr.Dst = &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), r.Dst.Addr().BitLen())}
	}
	return nr
}

// AddRule adds r; one that exists already is fine.
func (n *Netlink) AddRule(r IPRule) error {
	if err := n.h.RuleAdd(n.rule(r)); err != nil && !errors.Is(err, syscall.EEXIST) {
		return err
	}
	return nil
}

// DelRule deletes r; one that is gone already is fine.
func (n *Netlink) DelRule(r IPRule) error {
	if err := n.h.RuleDel(n.rule(r)); err != nil && !errors.Is(err, syscall.ENOENT) {
		return err
	}
	return nil
}

// Routes lists the IPv4 and IPv6 routes in wanlb's tables.
func (n *Netlink) Routes() ([]Route, error) {
	var out []Route
	for _, v6 := range []bool{false, true} {
		rs, err := n.routes(v6)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

func (n *Netlink) routes(v6 bool) ([]Route, error) {
	rs, err := retry(func() ([]netlink.Route, error) {
		return n.h.RouteListFiltered(family(v6), &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		if v6 && errors.Is(err, syscall.EAFNOSUPPORT) {
			return nil, nil
		}
		return nil, err
	}
	var out []Route
	for _, r := range rs {
		if !ownedTable(r.Table) || (r.Dst != nil && !isDefault(r.Dst)) {
			// The kernel puts IPv6 routes of its own into every table a
			// route went to (none for a default-only table); only the
			// default route is wanlb's.
			continue
		}
		rt := Route{Table: r.Table, V6: v6}
		switch r.Type {
		case unix.RTN_UNREACHABLE:
			rt.Type = RouteUnreachable
		case unix.RTN_BLACKHOLE:
			rt.Type = RouteBlackhole
		default:
			if gw, ok := netip.AddrFromSlice(r.Gw); ok {
				rt.Gateway = gw.Unmap()
			}
			if l, err := n.h.LinkByIndex(r.LinkIndex); err == nil {
				rt.Device = l.Attrs().Name
			}
		}
		out = append(out, rt)
	}
	return out, nil
}

// defaultDst is the destination of a table's default route.
func defaultDst(v6 bool) *net.IPNet {
	if v6 {
		return &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
	}
	return &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
}

func isDefault(dst *net.IPNet) bool {
	ones, _ := dst.Mask.Size()
	return ones == 0
}

func (n *Netlink) route(r Route) (*netlink.Route, error) {
	nr := &netlink.Route{
		Table:  r.Table,
		Dst:    defaultDst(r.V6),
		Family: family(r.V6),
	}
	switch r.Type {
	case RouteUnreachable:
		nr.Type = unix.RTN_UNREACHABLE
	case RouteBlackhole:
		nr.Type = unix.RTN_BLACKHOLE
	default:
		l, err := n.h.LinkByName(r.Device)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", r.Device, err)
		}
		nr.LinkIndex = l.Attrs().Index
		if r.Gateway.IsValid() {
			nr.Gw = r.Gateway.AsSlice()
		} else {
			nr.Scope = netlink.SCOPE_LINK
		}
	}
	return nr, nil
}

// ReplaceRoute sets the default route of r's table.
func (n *Netlink) ReplaceRoute(r Route) error {
	nr, err := n.route(r)
	if err != nil {
		return err
	}
	return n.h.RouteReplace(nr)
}

// DelRoute deletes r; one that is gone already is fine.
func (n *Netlink) DelRoute(r Route) error {
	nr := &netlink.Route{Table: r.Table, Dst: defaultDst(r.V6), Family: family(r.V6)}
	switch r.Type {
	case RouteUnreachable:
		nr.Type = unix.RTN_UNREACHABLE
	case RouteBlackhole:
		nr.Type = unix.RTN_BLACKHOLE
	}
	if err := n.h.RouteDel(nr); err != nil && !errors.Is(err, syscall.ESRCH) && !errors.Is(err, syscall.ENOENT) {
		return err
	}
	return nil
}

// ProcSysctl writes /proc/sys.
type ProcSysctl struct{}

// Set writes value to the sysctl name (dots as in sysctl(8)).
func (ProcSysctl) Set(name, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
	if cur, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(cur)) == value {
		return nil
	}
	return os.WriteFile(path, []byte(value), 0o644)
}
