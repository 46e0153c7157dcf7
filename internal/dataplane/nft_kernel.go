package dataplane

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nf_tables over nfnetlink (linux/netfilter/nf_tables.h, nfnetlink.h).
// Only what the repair check and the backend detection need.
const (
	nfnlSubsysNFTables = 10 // NFNL_SUBSYS_NFTABLES
	nfnlGroupNFTables  = 7  // NFNLGRP_NFTABLES: every table/chain/rule change and each commit's NEWGEN

	nftMsgNewRule = 6  // NFT_MSG_NEWRULE
	nftMsgGetRule = 7  // NFT_MSG_GETRULE
	nftMsgNewGen  = 15 // NFT_MSG_NEWGEN, also the answer to GETGEN
	nftMsgGetGen  = 16 // NFT_MSG_GETGEN

	nftaGenID      = 1 // NFTA_GEN_ID
	nftaGenProcPID = 2 // NFTA_GEN_PROC_PID

	nftaRuleTable       = 1 // NFTA_RULE_TABLE
	nftaRuleChain       = 2 // NFTA_RULE_CHAIN
	nftaRuleExpressions = 4 // NFTA_RULE_EXPRESSIONS
	nftaRuleUserdata    = 7 // NFTA_RULE_USERDATA (the comment)

	nfprotoINet = 1 // NFPROTO_INET
)

func nftType(msg int) netlink.HeaderType { return netlink.HeaderType(nfnlSubsysNFTables<<8 | msg) }

// nfgenmsg is the header of every nfnetlink message: family, version
// (NFNETLINK_V0), resource id.
func nfgenmsg(family uint8) []byte { return []byte{family, 0, 0, 0} }

// NFTNetlink reads the nftables state of the current network namespace.
type NFTNetlink struct{ c *netlink.Conn }

// NewNFTNetlink opens an nfnetlink socket.
func NewNFTNetlink() (*NFTNetlink, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return nil, fmt.Errorf("nfnetlink: %w", err)
	}
	return &NFTNetlink{c: c}, nil
}

// Close releases the socket.
func (n *NFTNetlink) Close() error { return n.c.Close() }

// Generation asks the kernel for the ruleset generation (NFT_MSG_GETGEN).
func (n *NFTNetlink) Generation() (uint32, error) {
	msgs, err := n.c.Execute(netlink.Message{
		Header: netlink.Header{Type: nftType(nftMsgGetGen), Flags: netlink.Request},
		Data:   nfgenmsg(unix.AF_UNSPEC),
	})
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		if id, _, ok := parseGen(m); ok {
			return id, nil
		}
	}
	return 0, errors.New("no generation in the kernel's answer")
}

// parseGen reads a NEWGEN message: the generation and the committing pid.
func parseGen(m netlink.Message) (id uint32, pid int, ok bool) {
	if m.Header.Type != nftType(nftMsgNewGen) || len(m.Data) < 4 {
		return 0, 0, false
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		return 0, 0, false
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case nftaGenID:
			id, ok = ad.Uint32(), true
		case nftaGenProcPID:
			pid = int(ad.Uint32())
		}
	}
	return id, pid, ok && ad.Err() == nil
}

// Fingerprint dumps the rules of table inet wanlb (the kernel filters by
// table) and hashes, in order, each rule's chain, expressions and comment;
// handles are left out, as they change with every apply.
func (n *NFTNetlink) Fingerprint() (uint64, error) {
	ae := netlink.NewAttributeEncoder()
	ae.String(nftaRuleTable, NFTTable)
	attrs, err := ae.Encode()
	if err != nil {
		return 0, err
	}
	msgs, err := n.c.Execute(netlink.Message{
		Header: netlink.Header{Type: nftType(nftMsgGetRule), Flags: netlink.Request | netlink.Dump},
		Data:   append(nfgenmsg(nfprotoINet), attrs...),
	})
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return 0, err
	}
	h := fnv.New64a()
	for _, m := range msgs {
		if m.Header.Type != nftType(nftMsgNewRule) || len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, err
		}
		for ad.Next() {
			switch ad.Type() {
			case nftaRuleTable, nftaRuleChain, nftaRuleExpressions, nftaRuleUserdata:
				fmt.Fprintf(h, "%d:%d:", ad.Type(), len(ad.Bytes()))
				h.Write(ad.Bytes())
			}
		}
		h.Write([]byte{'\n'})
	}
	return h.Sum64(), nil
}

// NFTAvailable reports whether the kernel has nf_tables, without running
// any program: an nfnetlink GETGEN is answered (or refused for want of
// privilege, which still proves the subsystem is there).
func NFTAvailable() error {
	n, err := NewNFTNetlink()
	if err != nil {
		return err
	}
	defer n.Close()
	if _, err := n.Generation(); err != nil && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("nf_tables: %w", err)
	}
	return nil
}

// watchNFT reports every commit in the namespace to r until ctx ends: the
// NEWGEN message that closes each commit carries the committing pid.
// Lost events (a full socket buffer) count as a foreign commit.
func watchNFT(ctx context.Context, r *nftRuleset) error {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{Groups: 1 << (nfnlGroupNFTables - 1)})
	if err != nil {
		return fmt.Errorf("nftables events: %w", err)
	}
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	go func() {
		for {
			msgs, err := c.Receive()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				if errors.Is(err, unix.ENOBUFS) {
					r.committed(0)
					continue
				}
				return
			}
			for _, m := range msgs {
				if _, pid, ok := parseGen(m); ok {
					r.committed(pid)
				}
			}
		}
	}()
	return nil
}

// NFTExec is the real NFTRunner: one `nft -f -` per transaction.
type NFTExec struct{ Path string }

// NewNFTExec finds nft on PATH (without running it).
func NewNFTExec() (*NFTExec, error) {
	path, err := exec.LookPath("nft")
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return &NFTExec{Path: path}, nil
}

var nftLineRe = regexp.MustCompile(`/dev/stdin:(\d+):`)

// Run feeds text to nft on stdin. A failed transaction changes nothing;
// the error quotes nft's message and the failing line with its neighbours.
func (x *NFTExec) Run(text []byte) (int, error) {
	cmd := exec.Command(x.Path, "-f", "-")
	cmd.Stdin = bytes.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("nft: %w", err)
	}
	pid := cmd.Process.Pid
	if err := cmd.Wait(); err != nil {
		msg := strings.TrimSpace(out.String())
		if m := nftLineRe.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			msg += "\n" + excerpt(text, n)
		}
		return pid, fmt.Errorf("nft -f -: %w: %s", err, msg)
	}
	return pid, nil
}

// NewNFTables returns the real nftables backend of the current network
// namespace, watching for foreign commits until the returned func is
// called.
func NewNFTables() (Ruleset, func(), error) {
	run, err := NewNFTExec()
	if err != nil {
		return nil, nil, err
	}
	state, err := NewNFTNetlink()
	if err != nil {
		return nil, nil, err
	}
	r := NewNFTRuleset(run, state).(*nftRuleset)
	wctx, cancel := context.WithCancel(context.Background())
	if err := watchNFT(wctx, r); err != nil {
		// The generation poll still finds changes, a few seconds later.
		cancel()
	}
	return r, func() { cancel(); state.Close() }, nil
}
