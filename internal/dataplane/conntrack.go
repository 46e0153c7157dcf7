package dataplane

import (
	"fmt"

	"github.com/ti-mo/conntrack"
)

// Conntrack deletes connection tracking entries.
type Conntrack interface {
	// DeleteMarked deletes every entry whose mark matches mark/mask.
	DeleteMarked(mark, mask uint32) error
}

// KernelConntrack is the real Conntrack: one netlink request that the
// kernel filters by mark, so the table is never dumped to user space and
// no other connection is touched (mwan3's flush_conntrack option, when
// set, flushes the whole table).
type KernelConntrack struct{ c *conntrack.Conn }

// NewConntrack opens a conntrack netlink socket in the current namespace.
func NewConntrack() (*KernelConntrack, error) {
	c, err := conntrack.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("conntrack: %w", err)
	}
	return &KernelConntrack{c: c}, nil
}

// DeleteMarked deletes the entries carrying mark under mask.
func (k *KernelConntrack) DeleteMarked(mark, mask uint32) error {
	if err := k.c.FlushFilter(conntrack.Filter{Mark: mark, Mask: mask}); err != nil {
		return fmt.Errorf("conntrack delete mark %#x/%#x: %w", mark, mask, err)
	}
	return nil
}

// Close releases the socket.
func (k *KernelConntrack) Close() error { return k.c.Close() }
