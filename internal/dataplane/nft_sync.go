package dataplane

import (
	"fmt"
	"slices"
	"strings"
)

// parseNFT reads back the chains of a transaction RenderNFT wrote (its own
// canonical layout, nothing else): the table block's chains, each with its
// hook declaration and rules.
func parseNFT(text []byte) ([]nftChain, error) {
	var out []nftChain
	var cur *nftChain
	for _, line := range strings.Split(string(text), "\n") {
		switch {
		case strings.HasPrefix(line, "\tchain ") && strings.HasSuffix(line, " {"):
			out = append(out, nftChain{Name: strings.TrimSuffix(strings.TrimPrefix(line, "\tchain "), " {")})
			cur = &out[len(out)-1]
		case line == "\t}":
			cur = nil
		case strings.HasPrefix(line, "\t\t") && cur != nil:
			r := line[2:]
			if strings.HasPrefix(r, "type ") && cur.Hook == "" && len(cur.Rules) == 0 {
				cur.Hook = r
			} else {
				cur.Rules = append(cur.Rules, r)
			}
		case strings.HasPrefix(line, "\t"):
			return nil, fmt.Errorf("nftables text: unexpected line %q", line)
		}
	}
	return out, nil
}

// nftDelta is the transaction that turns the table holding old into one
// holding chains when both have the same chains (a WAN going down or up, a
// weight change): each chain whose rules changed is flushed and refilled,
// as single commands, in one transaction. Single commands, not a table
// block: with a block nft reads the whole table first, which costs as much
// as loading it. ok is false when the chains themselves differ (rules or
// WANs added or removed, a hook changed): then the full sync replaces the
// table, so the kernel holds the same table, chains in the same order,
// however it got there.
func nftDelta(old, chains []nftChain) (text []byte, ok bool) {
	if len(old) != len(chains) {
		return nil, false
	}
	var b lineBuffer
	for i, c := range chains {
		o := old[i]
		if o.Name != c.Name || o.Hook != c.Hook {
			return nil, false
		}
		if slices.Equal(o.Rules, c.Rules) {
			continue
		}
		b.Line("flush chain inet", NFTTable, c.Name)
		for _, r := range c.Rules {
			b.Line("add rule inet", NFTTable, c.Name, r)
		}
	}
	return b.Bytes(), true
}
