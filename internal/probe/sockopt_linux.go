//go:build linux

package probe

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// markAndBind sets via's fwmark and device binding on the socket fd. Both
// are privileged; the error names the missing capability, since "operation
// not permitted" alone sends people hunting in the wrong place.
func markAndBind(fd int, via Via) error {
	if via.Mark != 0 {
		// int(uint32) wraps on 32-bit platforms; the kernel reads the same
		// 32 bits back as a u32.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(via.Mark)); err != nil {
			return markError(via.Mark, err)
		}
	}
	if via.Device != "" {
		if err := unix.BindToDevice(fd, via.Device); err != nil {
			return bindError(via.Device, err)
		}
	}
	return nil
}

func markError(mark uint32, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("set SO_MARK %#x: %w (needs CAP_NET_ADMIN)", mark, err)
	}
	return fmt.Errorf("set SO_MARK %#x: %w", mark, err)
}

func bindError(dev string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return fmt.Errorf("bind to device %s (SO_BINDTODEVICE): %w (needs CAP_NET_RAW)", dev, err)
	case errors.Is(err, unix.ENODEV):
		return fmt.Errorf("bind to device %s (SO_BINDTODEVICE): no such device", dev)
	}
	return fmt.Errorf("bind to device %s (SO_BINDTODEVICE): %w", dev, err)
}

// rawBindMu serialises raw ICMP socket creation between rawBinder's two
// scans, so the one raw ICMP socket that appeared in between is the
// pinger's own.
var rawBindMu sync.Mutex

// rawBinder binds pro-bing's raw ICMP socket to a device. pro-bing applies
// Pinger.InterfaceName only as the interface index of an IP_PKTINFO /
// IPV6_PKTINFO control message on each send: that pins the egress
// interface of the echo request, but the socket itself stays unbound, so it
// also receives replies arriving on other WANs, and pro-bing never exposes
// the socket to bind it. rawBinder finds it instead: it notes the sockets
// open before the pinger starts (holding rawBindMu), and in the pinger's
// OnSetup callback, which runs after the socket is opened and marked but
// before the first echo request, binds the one new raw ICMP socket.
type rawBinder struct {
	family, proto int
	mark          uint32
	dev           string
	before        map[uint64]bool
	once          sync.Once
}

// newRawBinder takes rawBindMu and records the open sockets; release (or
// bind) gives the lock back.
func newRawBinder(ipv4 bool, mark uint32, dev string) (*rawBinder, error) {
	b := &rawBinder{family: unix.AF_INET6, proto: unix.IPPROTO_ICMPV6, mark: mark, dev: dev}
	if ipv4 {
		b.family, b.proto = unix.AF_INET, unix.IPPROTO_ICMP
	}
	rawBindMu.Lock()
	socks, err := openSockets()
	if err != nil {
		rawBindMu.Unlock()
		return nil, err
	}
	b.before = make(map[uint64]bool, len(socks))
	for ino := range socks {
		b.before[ino] = true
	}
	return b, nil
}

// release lets other pingers create their sockets; idempotent.
func (b *rawBinder) release() { b.once.Do(rawBindMu.Unlock) }

// bind binds the raw ICMP socket opened since newRawBinder to the device.
func (b *rawBinder) bind() error {
	defer b.release()
	socks, err := openSockets()
	if err != nil {
		return err
	}
	var found []int
	for ino, fd := range socks {
		if !b.before[ino] && b.isOurs(fd) {
			found = append(found, fd)
		}
	}
	if len(found) != 1 {
		return fmt.Errorf("bind ICMP socket to device %s: found %d new raw ICMP sockets, want 1", b.dev, len(found))
	}
	if err := unix.BindToDevice(found[0], b.dev); err != nil {
		return bindError(b.dev, err)
	}
	return nil
}

// isOurs reports whether fd is a raw ICMP socket of the pinger's family
// carrying the pinger's mark (pro-bing sets it before OnSetup).
func (b *rawBinder) isOurs(fd int) bool {
	get := func(opt int) int {
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
		if err != nil {
			return -1
		}
		return v
	}
	return get(unix.SO_TYPE) == unix.SOCK_RAW &&
		get(unix.SO_DOMAIN) == b.family &&
		get(unix.SO_PROTOCOL) == b.proto &&
		uint32(get(unix.SO_MARK)) == b.mark
}

// openSockets maps the inode of every socket open in this process to one of
// its descriptors. Inodes, not descriptor numbers, identify sockets: a
// descriptor closed by another goroutine may be reused by a new socket
// between the two scans.
func openSockets() (map[uint64]int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("list open sockets: %w", err)
	}
	socks := make(map[uint64]int, len(entries))
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		// Descriptors may close under us; skip whatever fails.
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			continue
		}
		socks[uint64(st.Ino)] = fd
	}
	return socks, nil
}
