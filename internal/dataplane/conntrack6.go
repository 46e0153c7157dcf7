package dataplane

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/ti-mo/conntrack"
)

// DeleteMarked6 deletes the IPv6 entries carrying mark under mask, and no
// IPv4 one: a WAN whose IPv6 side went offline while its IPv4 works loses
// its IPv6 connections only. The kernel filters the dump by mark, so only
// that WAN's entries come to user space; each IPv6 one is deleted by its
// tuples (the library's filtered flush ignores the family).
func (k *KernelConntrack) DeleteMarked6(mark, mask uint32) error {
	flows, err := k.c.DumpFilter(conntrack.Filter{Mark: mark, Mask: mask}, nil)
	if err != nil {
		return fmt.Errorf("conntrack dump mark %#x/%#x: %w", mark, mask, err)
	}
	var errs []error
	for _, f := range flows {
		if !f.TupleOrig.IP.IsIPv6() {
			continue
		}
		err := k.c.Delete(conntrack.Flow{TupleOrig: f.TupleOrig, TupleReply: f.TupleReply, Zone: f.Zone})
		if err != nil && !errors.Is(err, syscall.ENOENT) { // gone meanwhile
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("conntrack delete IPv6 mark %#x/%#x: %d of %d failed: %w", mark, mask, len(errs), len(flows), errs[0])
	}
	return nil
}
