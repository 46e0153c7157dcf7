package daemon

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/dataplane/dataplanetest"
	"github.com/wanlb/wanlb/internal/linkmon"
	"github.com/wanlb/wanlb/internal/tracker"
)

// testDaemon is a daemon over fakes with the given UCI config, every WAN
// online with carrier on its device, its state goroutine not running:
// the test calls its handlers itself.
func testDaemon(t *testing.T, runDir, uci string) (*Daemon, *dataplanetest.DataPlane, *dataplanetest.Conntrack) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wanlb"), []byte(uci), 0o644); err != nil {
		t.Fatal(err)
	}
	c, problems, err := config.Load(dir)
	if err != nil || c == nil {
		t.Fatalf("config: %v %v", err, problems)
	}
	dp, ct := dataplanetest.New(), &dataplanetest.Conntrack{}
	d := New(Options{ConfigDir: dir, RunDir: runDir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Kernel{DataPlane: dp, Conntrack: ct})
	d.cfg = c
	d.links = map[string]linkmon.Link{}
	d.trackers = map[string]*tracker.Tracker{}
	for i := range c.WANs {
		w := &c.WANs[i]
		d.links[w.Device] = linkmon.Link{Device: w.Device, Exists: true, Carrier: true}
		d.trackers[w.Name] = tracker.New(tracker.SettingsFrom(w), tracker.Online, time.Now())
	}
	return d, dp, ct
}

const twoWANs = "config wan 'wan1'\n\toption device 'wan1'\n\toption gateway '198.18.11.1'\n\n" +
	"config wan 'wan2'\n\toption device 'wan2'\n\toption gateway '198.18.12.1'\n\n"

// TestFailedApplyStillDeletesConntrack: when the apply that takes an
// offline WAN out fails, the retry that succeeds must still delete that
// WAN's conntrack entries, or its UDP flows stay on the dead link.
func TestFailedApplyStillDeletesConntrack(t *testing.T) {
	d, dp, ct := testDaemon(t, t.TempDir(), twoWANs)
	d.replan("start")
	wan1, _ := d.prev.WAN("wan1")
	mark := d.prev.MarkMask.Value(wan1.Mark)

	dp.FailNext(1)
	d.onLink(linkmon.Link{Device: "wan1", Exists: true, Carrier: false})
	if !d.applyFailed || dp.Count() != 1 {
		t.Fatalf("the apply after wan1 went down should have failed (applyFailed %v, %d applies)", d.applyFailed, dp.Count())
	}
	if len(ct.Marks()) != 0 {
		t.Fatalf("conntrack entries deleted although the kernel still sends new connections to wan1: %#x", ct.Marks())
	}

	d.replan("retry")
	if d.applyFailed || dp.Count() != 2 {
		t.Fatalf("the retry did not apply (applyFailed %v, %d applies)", d.applyFailed, dp.Count())
	}
	if w, _ := dp.Last().WAN("wan1"); w.Usable {
		t.Fatal("the retried plan still has wan1 usable")
	}
	if len(ct.Marks()) != 1 || ct.Marks()[0] != mark {
		t.Fatalf("after the retry deleted marks %#x, want wan1's %#x", ct.Marks(), mark)
	}
	// Nothing changed since: no second deletion.
	d.replan("retry")
	if len(ct.Marks()) != 1 {
		t.Errorf("deleted again on an unchanged plan: %#x", ct.Marks())
	}
}
