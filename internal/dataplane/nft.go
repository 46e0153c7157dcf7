package dataplane

import (
	"fmt"
	"sync"

	"github.com/wanlb/wanlb/internal/plan"
)

// NFTRunner runs nftables transactions.
type NFTRunner interface {
	// Run runs text as one transaction (one `nft -f -`): all of it or
	// nothing. pid is the process that committed it, so its netlink
	// events can be told from everyone else's.
	Run(text []byte) (pid int, err error)
}

// NFTState reads the nftables state over netlink, without a process.
type NFTState interface {
	// Generation is the ruleset generation: every commit by anyone
	// moves it.
	Generation() (uint32, error)
	// Fingerprint sums the rules of table inet wanlb (chains, order,
	// expressions, comments), for telling whether they changed; a missing
	// table has the fingerprint of an empty one.
	Fingerprint() (uint64, error)
}

// flushNFT deletes wanlb's table whether or not it exists: "add" makes
// sure there is one to delete (`destroy` needs nft 1.0.8 and kernel 6.3).
var flushNFT = []byte("add table inet " + NFTTable + "\ndelete table inet " + NFTTable + "\n")

// nftRuleset is the nftables backend: everything in wanlb's own table,
// changed in one transaction each time: replaced whole on a full sync,
// else only the chains whose content changed are re-sent.
type nftRuleset struct {
	run   NFTRunner
	state NFTState

	// After the last Sync: the generation and fingerprint it left, and
	// the chains the table holds (what an incremental sync diffs against).
	synced bool
	gen    uint32
	sum    uint64
	chains []nftChain

	mu      sync.Mutex
	ownPIDs []int // the last few nft processes wanlb ran
	changes chan struct{}
}

// NewNFTRuleset returns the nftables backend.
func NewNFTRuleset(run NFTRunner, state NFTState) Ruleset {
	return &nftRuleset{run: run, state: state, changes: make(chan struct{}, 1)}
}

func (r *nftRuleset) Backend() string { return BackendNFTables }

func (r *nftRuleset) Render(p *plan.Plan, _ *Desired) ([]byte, error) { return RenderNFT(p) }

// Sync makes the table hold text. A full sync (asked for, or the first
// one, or after a failure or a flush) runs text itself, which deletes and
// recreates the whole table; otherwise only the changed chains are sent
// (nftDelta), as one transaction too: nft's parsing of a whole table is
// much of an apply's cost, a few short chains take a fraction of it.
func (r *nftRuleset) Sync(text []byte, full bool) error {
	chains, err := parseNFT(text)
	if err != nil {
		return err
	}
	send := text
	if !full && r.synced {
		if delta, ok := nftDelta(r.chains, chains); ok {
			send = delta
		}
	}
	r.synced, r.chains = false, nil
	if len(send) > 0 {
		if err := r.exec(send); err != nil {
			return err
		}
	}
	gen, err := r.state.Generation()
	if err != nil {
		return fmt.Errorf("nftables generation: %w", err)
	}
	sum, err := r.state.Fingerprint()
	if err != nil {
		return fmt.Errorf("nftables table %s: %w", NFTTable, err)
	}
	r.synced, r.gen, r.sum, r.chains = true, gen, sum, chains
	return nil
}

func (r *nftRuleset) exec(text []byte) error {
	pid, err := r.run.Run(text)
	r.mu.Lock()
	r.ownPIDs = append(r.ownPIDs, pid)
	if len(r.ownPIDs) > 8 {
		r.ownPIDs = r.ownPIDs[1:]
	}
	r.mu.Unlock()
	return err
}

// own reports whether pid is one of wanlb's own nft processes.
func (r *nftRuleset) own(pid int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.ownPIDs {
		if p == pid && pid != 0 {
			return true
		}
	}
	return false
}

func (r *nftRuleset) Flush() error {
	r.synced, r.chains = false, nil
	if err := r.exec(flushNFT); err != nil {
		return fmt.Errorf("delete table inet %s: %w", NFTTable, err)
	}
	return nil
}

// Intact costs one netlink request while nobody commits anything, and a
// dump of wanlb's table when someone did (fw4 reloads its own table; that
// moves the generation but leaves wanlb's fingerprint alone).
func (r *nftRuleset) Intact() bool {
	if !r.synced {
		return true
	}
	gen, err := r.state.Generation()
	if err != nil {
		return false
	}
	if gen == r.gen {
		return true
	}
	sum, err := r.state.Fingerprint()
	if err != nil || sum != r.sum {
		return false
	}
	r.gen = gen
	return true
}

// Changes is fed by Watch.
func (r *nftRuleset) Changes() <-chan struct{} { return r.changes }

// committed is called for every commit the kernel reports (pid: the
// committing process, 0 when unknown, as after lost events): commits of
// other processes wake the daemon's repair check.
func (r *nftRuleset) committed(pid int) {
	if r.own(pid) {
		return
	}
	select {
	case r.changes <- struct{}{}:
	default:
	}
}
