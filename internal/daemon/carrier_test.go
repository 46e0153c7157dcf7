package daemon

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/dataplane/dataplanetest"
	"github.com/wanlb/wanlb/internal/plan"
)

// atApply wraps the fake data plane and notes, at each apply, what the
// daemon had done before it: netifd lookups, conntrack deletions, the
// state file's content.
type atApply struct {
	*dataplanetest.DataPlane
	h    *harness
	mu   sync.Mutex
	seen []applySnapshot
}

type applySnapshot struct {
	carriers     []string
	netifdCalls  int
	ctDeleted    int
	stateEngaged bool
}

func (a *atApply) Apply(p *plan.Plan) (dataplane.Result, error) {
	s := applySnapshot{ctDeleted: len(a.h.ct.Marks())}
	for _, m := range p.Default.Members {
		s.carriers = append(s.carriers, m.WAN)
	}
	a.h.nf.mu.Lock()
	s.netifdCalls = a.h.nf.calls
	a.h.nf.mu.Unlock()
	b, _ := os.ReadFile(filepath.Join(a.h.run, StateName))
	s.stateEngaged = strings.Contains(string(b), `"backup"`) && strings.Contains(string(b), "wan2")
	a.mu.Lock()
	a.seen = append(a.seen, s)
	a.mu.Unlock()
	return a.DataPlane.Apply(p)
}

// TestLoopCarrierLossHotPath: a carrier loss reaches the data plane with
// nothing else before it: no netifd lookup (netifd's own view follows by
// hotplug, later), the offline WAN's conntrack entries deleted only after
// the apply (before it, the kernel would put new connections right back
// on the dead WAN), and the state file (fsync'd, link backup memory)
// written after it too.
func TestLoopCarrierLossHotPath(t *testing.T) {
	const cfg = "config wan 'wan1'\n\toption detection 'always_online'\n\n" +
		"config wan 'wan2'\n\toption device 'wan2'\n\toption gateway '198.18.12.1'\n\toption detection 'always_online'\n\n" +
		"config link_backup 'lb'\n\tlist primary 'wan1'\n\tlist backup 'wan2'\n"
	var dp *atApply
	h := startDaemon(t, cfg, func(h *harness, k *Kernel) {
		h.nf.set("wan1", "wan1", "198.18.11.1", true)
		k.Netifd = h.nf.Status
		dp = &atApply{DataPlane: h.dp, h: h}
		k.DataPlane = dp
	})
	h.eventually("wan1 carries", func() bool { return slices.Equal(h.carriers(), []string{"wan1"}) })
	h.nf.mu.Lock()
	calls := h.nf.calls
	h.nf.mu.Unlock()

	h.links.set("wan1", false)
	h.eventually("the backup carries", func() bool { return slices.Equal(h.carriers(), []string{"wan2"}) })
	dp.mu.Lock()
	var s applySnapshot
	for _, x := range dp.seen {
		if slices.Equal(x.carriers, []string{"wan2"}) {
			s = x
			break
		}
	}
	dp.mu.Unlock()
	if s.carriers == nil {
		t.Fatal("no apply with the backup carrying")
	}
	if s.netifdCalls != calls {
		t.Errorf("netifd was asked %d times between the carrier loss and its apply, want none", s.netifdCalls-calls)
	}
	if s.ctDeleted != 0 {
		t.Errorf("%d conntrack deletions before the apply, want them after it", s.ctDeleted)
	}
	if s.stateEngaged {
		t.Error("the state file was written before the apply, want it after")
	}
	h.sync()
	if len(h.ct.Marks()) == 0 {
		t.Error("wan1's conntrack entries were not deleted after the apply")
	}
	if b, _ := os.ReadFile(filepath.Join(h.run, StateName)); !strings.Contains(string(b), "wan2") {
		t.Errorf("the state file lacks the engaged backup after the apply: %s", b)
	}
}
