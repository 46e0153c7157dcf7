// Package dataplanetest provides fakes of the data plane and of conntrack
// for tests of the code that drives them (the daemon's loop): they record
// what they are asked and can refuse or report damage the way the kernel
// does, without root. Every method is safe for concurrent use, as the
// loop tests run under -race.
package dataplanetest

import (
	"errors"
	"slices"
	"sync"

	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/plan"
)

// DataPlane records the plans it is given. It refuses the next n applies
// after FailNext(n), as the kernel does for a moment (the xtables lock),
// and reports its rules gone after Break until the next apply.
type DataPlane struct {
	mu        sync.Mutex
	failNext  int
	applied   []*plan.Plan
	broken    bool
	fullSyncs int
	flushed   bool
	adopt     map[string]uint32
	changes   chan struct{}
}

// New returns an empty DataPlane whose Changes channel holds one event.
func New() *DataPlane { return &DataPlane{changes: make(chan struct{}, 1)} }

// Apply records p, or fails while FailNext is pending.
func (f *DataPlane) Apply(p *plan.Plan) (dataplane.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext > 0 {
		f.failNext--
		return dataplane.Result{}, errors.New("iptables-restore: resource temporarily unavailable")
	}
	f.applied = append(f.applied, p)
	f.broken = false
	return dataplane.Result{Desired: &dataplane.Desired{}, Restored: true}, nil
}

// Intact is false after Break, until the next apply.
func (f *DataPlane) Intact(*dataplane.Desired) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.broken
}

// RequestFullSync counts the requests (FullSyncs).
func (f *DataPlane) RequestFullSync() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fullSyncs++
}

// Flush records that it was called (Flushed).
func (f *DataPlane) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushed = true
	return nil
}

// AdoptMarks returns what SetAdopt gave, as a previous run's kernel state.
func (f *DataPlane) AdoptMarks() (map[string]uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.adopt, nil
}

// Backend names the fake.
func (f *DataPlane) Backend() string { return "fake" }

// Changes delivers the events Changed sends.
func (f *DataPlane) Changes() <-chan struct{} { return f.changes }

// Changed reports a change of the rules by someone else, as the nftables
// backend's monitor does; it drops the event when one is pending.
func (f *DataPlane) Changed() {
	select {
	case f.changes <- struct{}{}:
	default:
	}
}

// FailNext makes the next n applies fail.
func (f *DataPlane) FailNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = n
}

// FailsLeft is how many applies will still fail.
func (f *DataPlane) FailsLeft() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failNext
}

// Break makes Intact report the rules gone until the next apply.
func (f *DataPlane) Break() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.broken = true
}

// SetAdopt sets the marks AdoptMarks reports.
func (f *DataPlane) SetAdopt(marks map[string]uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adopt = marks
}

// Last is the last plan applied, or nil.
func (f *DataPlane) Last() *plan.Plan {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.applied) == 0 {
		return nil
	}
	return f.applied[len(f.applied)-1]
}

// Count is the number of successful applies.
func (f *DataPlane) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.applied)
}

// FullSyncs is the number of RequestFullSync calls.
func (f *DataPlane) FullSyncs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fullSyncs
}

// Flushed reports whether Flush was called.
func (f *DataPlane) Flushed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushed
}

// Conntrack records the marks whose entries it was asked to delete: of
// both families (DeleteMarked) or IPv6 only (DeleteMarked6).
type Conntrack struct {
	mu       sync.Mutex
	deleted  []uint32
	deleted6 []uint32
}

// DeleteMarked6 records mark as deleted for IPv6 only.
func (f *Conntrack) DeleteMarked6(mark, mask uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted6 = append(f.deleted6, mark)
	return nil
}

// Marks6 are the marks whose IPv6 entries alone were deleted, in order.
func (f *Conntrack) Marks6() []uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deleted6)
}

// DeleteMarked records mark.
func (f *Conntrack) DeleteMarked(mark, mask uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, mark)
	return nil
}

// Marks are the marks deleted so far, in order.
func (f *Conntrack) Marks() []uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deleted)
}
