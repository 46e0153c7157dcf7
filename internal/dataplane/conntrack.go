package dataplane

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Conntrack deletes connection tracking entries.
type Conntrack interface {
	// DeleteMarked deletes every entry whose mark matches mark/mask.
	DeleteMarked(mark, mask uint32) error
}

// KernelConntrack is the real Conntrack: one netlink request that the
// kernel filters by mark (and family), so the table is never dumped to
// user space and no other connection is touched (mwan3's flush_conntrack
// option, when set, flushes the whole table). It speaks ctnetlink through
// the netlink library the routes already use, rather than a conntrack
// library of its own: the router's binary stays smaller.
type KernelConntrack struct {
	mu sync.Mutex // one request at a time on the socket
	sh *nl.SocketHandle
}

// ctaMarkMask is CTA_MARK_MASK of linux/netfilter/nfnetlink_conntrack.h,
// which the netlink library does not name.
const ctaMarkMask = 21

// NewConntrack opens a conntrack netlink socket in the current namespace.
func NewConntrack() (*KernelConntrack, error) {
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("conntrack: %w", err)
	}
	return &KernelConntrack{sh: &nl.SocketHandle{Socket: s}}, nil
}

// DeleteMarked deletes the entries of both families carrying mark under
// mask.
func (k *KernelConntrack) DeleteMarked(mark, mask uint32) error {
	if err := k.flush(unix.AF_UNSPEC, mark, mask); err != nil {
		return fmt.Errorf("conntrack delete mark %#x/%#x: %w", mark, mask, err)
	}
	return nil
}

// DeleteMarked6 deletes the IPv6 entries carrying mark under mask, and no
// IPv4 one: a WAN whose IPv6 side went offline while its IPv4 works loses
// its IPv6 connections only.
func (k *KernelConntrack) DeleteMarked6(mark, mask uint32) error {
	if err := k.flush(unix.AF_INET6, mark, mask); err != nil {
		return fmt.Errorf("conntrack delete IPv6 mark %#x/%#x: %w", mark, mask, err)
	}
	return nil
}

// flush sends IPCTNL_MSG_CT_DELETE without a tuple: the kernel then
// deletes only the entries of family (AF_UNSPEC: any) whose mark matches
// mark/mask (ctnetlink_del_conntrack → ctnetlink_flush_conntrack's
// filter).
func (k *KernelConntrack) flush(family uint8, mark, mask uint32) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	req := nl.NewNetlinkRequest(unix.NFNL_SUBSYS_CTNETLINK<<8|nl.IPCTNL_MSG_CT_DELETE, unix.NLM_F_ACK)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_NETFILTER: k.sh}
	// The kernel honours the family of a flush only in a version 1
	// message: version 0 with any family flushes both, for old tools.
	req.AddData(&nl.Nfgenmsg{NfgenFamily: family, Version: 1})
	req.AddData(nl.NewRtAttr(nl.CTA_MARK, be32(mark)))
	req.AddData(nl.NewRtAttr(ctaMarkMask, be32(mask)))
	_, err := req.Execute(unix.NETLINK_NETFILTER, 0)
	return err
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// Close releases the socket.
func (k *KernelConntrack) Close() error {
	k.sh.Close()
	return nil
}
