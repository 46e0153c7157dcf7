package dataplane

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wanlb/wanlb/internal/plan"
)

// Backend names, as in the config's globals.backend.
const (
	BackendNFTables = "nftables"
	BackendIPTables = "iptables"
)

// Ruleset is one firewall backend: the rules that mark each new connection
// with its WAN, always changed in one transaction. Routes and ip rules are
// shared by every backend and not its business. The DataPlane holds one.
type Ruleset interface {
	// Backend is BackendNFTables or BackendIPTables.
	Backend() string
	// Render returns the transaction text for p (d is Render's result
	// for p). It is pure: equal bytes mean equal rules.
	Render(p *plan.Plan, d *Desired) ([]byte, error)
	// Sync makes the kernel hold text. With full set it trusts nothing it
	// remembers about the kernel.
	Sync(text []byte, full bool) error
	// Flush removes everything this backend owns, and nothing else.
	Flush() error
	// Intact reports whether the rules of the last Sync are still there
	// unchanged; true when nothing was synced.
	Intact() bool
}

// Watcher is a Ruleset that notices when someone else changes the
// firewall: Changes delivers a value soon after such a change.
type Watcher interface {
	Changes() <-chan struct{}
}

// iptablesRuleset is the legacy backend: wanlb's chains in the mangle
// table, replaced in one iptables-restore --noflush, with jumps from the
// built-in chains kept outside the transaction; the same for IPv6 with
// ip6tables.
type iptablesRuleset struct {
	fams [2]*ipFamily // IPv4, IPv6
}

// ipFamily is one of iptables and ip6tables: wanlb's chains in its mangle
// table. A nil fw leaves the family alone.
type ipFamily struct {
	fw         Firewall
	lastChains []string // the chains the last Sync created
	synced     bool
}

// ip6Separator starts the ip6tables transaction in the text of Render.
const ip6Separator = "# ip6tables-restore --noflush\n"

// NewIPTablesRuleset returns the iptables backend over fw (iptables) and
// fw6 (ip6tables; nil where there is none: IPv6 is then left alone).
func NewIPTablesRuleset(fw, fw6 Firewall) Ruleset {
	return &iptablesRuleset{fams: [2]*ipFamily{{fw: fw}, {fw: fw6}}}
}

func (r *iptablesRuleset) Backend() string { return BackendIPTables }

// Render is the two restore transactions, iptables' then ip6tables':
// every chain declared (which with --noflush creates or empties it), then
// the rules.
func (r *iptablesRuleset) Render(_ *plan.Plan, d *Desired) ([]byte, error) {
	var b bytes.Buffer
	for i, part := range []struct {
		chains []string
		mangle []byte
	}{{d.Chains, d.Mangle}, {d.Chains6, d.Mangle6}} {
		if i == 1 {
			if len(part.chains) == 0 {
				break // no WAN has an IPv6 side: ip6tables is left alone
			}
			b.WriteString(ip6Separator)
		}
		b.WriteString("*mangle\n")
		for _, c := range part.chains {
			b.WriteString(":" + c + " - [0:0]\n")
		}
		b.Write(part.mangle)
		b.WriteString("COMMIT\n")
	}
	return b.Bytes(), nil
}

// splitFamilies cuts a rendered text into the iptables and ip6tables
// transactions.
func splitFamilies(text []byte) [2][]byte {
	v4, v6, _ := bytes.Cut(text, []byte(ip6Separator))
	return [2][]byte{v4, v6}
}

// chainsOf lists the chains a rendered transaction declares.
func chainsOf(text []byte) []string {
	var out []string
	for _, l := range strings.Split(string(text), "\n") {
		if name, ok := strings.CutPrefix(l, ":"); ok {
			out = append(out, strings.Fields(name)[0])
		}
	}
	return out
}

func (r *iptablesRuleset) Sync(text []byte, full bool) error {
	parts := splitFamilies(text)
	for i, f := range r.fams {
		if f.fw == nil {
			continue
		}
		if len(parts[i]) == 0 {
			// Nothing for this family: remove what an earlier sync (or
			// process) left, without creating anything.
			if full || f.synced {
				if err := f.flush(); err != nil {
					return fmt.Errorf("ip6tables: %w", err)
				}
			}
			continue
		}
		if err := f.sync(parts[i], full); err != nil {
			if i == 1 {
				return fmt.Errorf("ip6tables: %w", err)
			}
			return err
		}
	}
	return nil
}

func (f *ipFamily) sync(text []byte, full bool) error {
	want := chainsOf(text)
	stale := f.lastChains
	if full {
		chains, err := f.fw.ListChains("mangle")
		if err != nil {
			return fmt.Errorf("list mangle chains: %w", err)
		}
		stale = chains
	}
	var drop []string
	for _, c := range stale {
		if strings.HasPrefix(c, ChainPrefix) && !slices.Contains(want, c) {
			drop = append(drop, c)
		}
	}
	if err := f.fw.Restore(withDrops(text, drop)); err != nil {
		return err
	}
	f.lastChains, f.synced = want, true
	for _, j := range hookJumps {
		if err := f.fw.EnsureJump("mangle", j.builtin, jumpRule(j.chain)); err != nil {
			return fmt.Errorf("jump from %s: %w", j.builtin, err)
		}
	}
	return nil
}

// withDrops adds the deletion of stale chains to a transaction: they are
// declared (so emptied) first and deleted last.
func withDrops(text []byte, drop []string) []byte {
	body, _ := bytes.CutSuffix(text, []byte("COMMIT\n"))
	head, rest, _ := bytes.Cut(body, []byte("\n"))
	var b bytes.Buffer
	b.Write(head)
	b.WriteString("\n")
	for _, c := range drop {
		b.WriteString(":" + c + " - [0:0]\n")
	}
	b.Write(rest)
	for _, c := range drop {
		b.WriteString("-X " + c + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.Bytes()
}

func jumpRule(chain string) []string {
	return []string{"-m", "comment", "--comment", "wanlb", "-j", chain}
}

func (r *iptablesRuleset) Flush() error {
	var errs []error
	for i, f := range r.fams {
		if f.fw == nil {
			continue
		}
		if err := f.flush(); err != nil {
			if i == 1 {
				err = fmt.Errorf("ip6tables: %w", err)
			}
			errs = append(errs, err)
		}
	}
	return joinErrs(errs)
}

func (f *ipFamily) flush() error {
	var errs []error
	for _, j := range hookJumps {
		if err := f.fw.DeleteJump("mangle", j.builtin, jumpRule(j.chain)); err != nil {
			errs = append(errs, fmt.Errorf("jump from %s: %w", j.builtin, err))
		}
	}
	chains, err := f.fw.ListChains("mangle")
	if err != nil {
		errs = append(errs, fmt.Errorf("list mangle chains: %w", err))
	}
	var ours []string
	for _, c := range chains {
		if strings.HasPrefix(c, ChainPrefix) {
			ours = append(ours, c)
		}
	}
	if len(ours) > 0 {
		if err := f.fw.Restore(withDrops([]byte("*mangle\nCOMMIT\n"), ours)); err != nil {
			errs = append(errs, err)
		}
	}
	f.lastChains, f.synced = nil, false
	return joinErrs(errs)
}

// Intact checks one canary per family, the PREROUTING jump: a firewall
// restart or `fw4 flush` deletes the chains and jumps. One iptables
// process per family.
func (r *iptablesRuleset) Intact() bool {
	for _, f := range r.fams {
		if f.fw == nil || !f.synced || len(f.lastChains) == 0 {
			continue
		}
		ok, err := f.fw.HasJump("mangle", hookJumps[0].builtin, jumpRule(hookJumps[0].chain))
		if err != nil || !ok {
			return false
		}
	}
	return true
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
