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

// maxDead bounds the unreachable rules a chain may keep (see nftDelta).
const maxDead = 4

// endsChain reports whether a rule, as the renderer writes it, always ends
// the chain: an unconditional goto or return, or a numgen or jhash verdict
// map (the renderer covers every key of the modulus).
func endsChain(rule string) bool {
	return rule == "return" || strings.HasSuffix(rule, " return") ||
		(strings.HasPrefix(rule, "goto ") && !strings.Contains(rule[len("goto "):], " ")) ||
		((strings.HasPrefix(rule, "numgen random mod ") || strings.HasPrefix(rule, "jhash ")) && strings.Contains(rule, " vmap {"))
}

// nftDelta is the transaction that turns the table holding old into one
// holding chains, as single commands (no table block: with one, nft reads
// the whole table first, which costs as much as loading it), all in one
// transaction: new chains added and filled, gone ones deleted after the
// rules that jumped to them.
//
// A changed chain is normally flushed and refilled. But any removal makes
// the kernel's commit wait for a grace period (measured ~14 ms per
// transaction, against ~1 ms to add a rule), and a WAN going down or up
// changes only chains whose last rule ends them (group chains, default,
// decide). Such a chain gets its new rules inserted in front instead: the
// old ones can no longer be reached, and stay as dead rules (counted in
// dead) until the chain holds maxDead of them or another change flushes
// it. A transaction that deletes a chain flushes every chain it changes
// and every chain with dead rules, which might still jump to it. ok is false when only a full sync will do: a base chain's hook
// changed or it went away.
func nftDelta(old, chains []nftChain, dead map[string]int) (text []byte, nextDead map[string]int, ok bool) {
	have := map[string]nftChain{}
	for _, c := range old {
		have[c.Name] = c
	}
	nextDead = map[string]int{}
	var gone []string
	for _, o := range old {
		if !slices.ContainsFunc(chains, func(c nftChain) bool { return c.Name == o.Name }) {
			if o.Hook != "" {
				// A base chain that goes away: rare (the layout
				// changed); the full sync is simpler to trust.
				return nil, nil, false
			}
			gone = append(gone, o.Name)
		}
	}
	var b lineBuffer
	type change struct {
		c      nftChain
		insert bool // in front of the old rules, which become dead
		flush  bool
	}
	var fill []change
	for _, c := range chains {
		o, exists := have[c.Name]
		switch {
		case !exists:
			if c.Hook != "" {
				b.Line("add chain inet", NFTTable, c.Name, "{", c.Hook, "}")
			} else {
				b.Line("add chain inet", NFTTable, c.Name)
			}
			fill = append(fill, change{c: c})
		case o.Hook != c.Hook:
			return nil, nil, false
		case slices.Equal(o.Rules, c.Rules) && (len(gone) == 0 || dead[c.Name] == 0):
			nextDead[c.Name] = dead[c.Name]
		case len(gone) == 0 && c.Hook == "" && len(c.Rules) > 0 && endsChain(c.Rules[len(c.Rules)-1]) &&
			dead[c.Name]+len(o.Rules) <= maxDead:
			fill = append(fill, change{c: c, insert: true})
			nextDead[c.Name] = dead[c.Name] + len(o.Rules)
		default:
			fill = append(fill, change{c: c, flush: true})
		}
	}
	for _, ch := range fill {
		if ch.flush {
			b.Line("flush chain inet", NFTTable, ch.c.Name)
		}
		if ch.insert {
			// insert puts a rule at the head: last rule first.
			for i := len(ch.c.Rules) - 1; i >= 0; i-- {
				b.Line("insert rule inet", NFTTable, ch.c.Name, ch.c.Rules[i])
			}
			continue
		}
		for _, r := range ch.c.Rules {
			b.Line("add rule inet", NFTTable, ch.c.Name, r)
		}
	}
	for _, name := range gone {
		b.Line("delete chain inet", NFTTable, name)
	}
	return b.Bytes(), nextDead, true
}
