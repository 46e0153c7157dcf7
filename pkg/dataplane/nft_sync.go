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
// holding chains: changed chains flushed and refilled, new ones added,
// gone ones deleted (after the rules that jumped to them are gone), all in
// one transaction. ok is false when only a full sync will do: a base
// chain's hook changed, or the chain order matters for a new one.
func nftDelta(old, chains []nftChain) (text []byte, ok bool) {
	have := map[string]nftChain{}
	for _, c := range old {
		have[c.Name] = c
	}
	var b lineBuffer
	var fill []nftChain
	var created []bool
	for _, c := range chains {
		o, exists := have[c.Name]
		switch {
		case !exists:
			fill, created = append(fill, c), append(created, true)
		case o.Hook != c.Hook:
			return nil, false
		case !slices.Equal(o.Rules, c.Rules):
			b.Line("flush chain inet", NFTTable, c.Name)
			fill, created = append(fill, c), append(created, false)
		}
	}
	if len(fill) > 0 {
		b.Line("table inet", NFTTable, "{")
		for i, c := range fill {
			c.write(&b, created[i])
		}
		b.Line("}")
	}
	for _, o := range old {
		if !slices.ContainsFunc(chains, func(c nftChain) bool { return c.Name == o.Name }) {
			if o.Hook != "" {
				// A base chain that goes away: rare (the layout
				// changed); the full sync is simpler to trust.
				return nil, false
			}
			b.Line("delete chain inet", NFTTable, o.Name)
		}
	}
	return b.Bytes(), true
}
