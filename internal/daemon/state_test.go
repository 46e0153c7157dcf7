package daemon

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/linkmon"
)

const revert0 = twoWANs + "config link_backup 'lb'\n\tlist primary 'wan1'\n\tlist backup 'wan2'\n\toption revert '0'\n"

// TestRevertZeroSurvivesRestart: a backup that took over under revert 0
// keeps the traffic when the daemon restarts with every WAN online.
func TestRevertZeroSurvivesRestart(t *testing.T) {
	run := t.TempDir()
	d, dp, _ := testDaemon(t, run, revert0)
	d.resumeEngaged()
	d.replan("start")
	if g := dp.Last().Default; len(g.Members) != 1 || g.Members[0].WAN != "wan1" {
		t.Fatalf("at start the primary should carry everything: %+v", g)
	}
	d.onLink(linkmon.Link{Device: "wan1", Exists: true, Carrier: false})
	if g := dp.Last().Default; len(g.Members) != 1 || g.Members[0].WAN != "wan2" {
		t.Fatalf("with the primary down the backup should carry everything: %+v", g)
	}

	// A new daemon (procd respawn) over the same run directory; both WANs
	// look online, as they do at every start.
	d2, dp2, _ := testDaemon(t, run, revert0)
	d2.resumeEngaged()
	d2.replan("start")
	p := dp2.Last()
	if g := p.Default; len(g.Members) != 1 || g.Members[0].WAN != "wan2" {
		t.Fatalf("after the restart the backup must keep the traffic (revert 0): %+v", g)
	}
	if w, _ := p.WAN("wan1"); !w.Standby {
		t.Errorf("after the restart wan1 should stand by: %+v", w)
	}

	// The backup fails: the entry lets go, and the file says so.
	d2.onLink(linkmon.Link{Device: "wan2", Exists: true, Carrier: false})
	d3, dp3, _ := testDaemon(t, run, revert0)
	d3.resumeEngaged()
	d3.replan("start")
	if g := dp3.Last().Default; len(g.Members) != 1 || g.Members[0].WAN != "wan1" {
		t.Errorf("after the backup failed and a restart, the primary should carry everything: %+v", g)
	}
}

func TestStateFileValidation(t *testing.T) {
	entry := config.LinkBackup{ID: "@link_backup[0]", Enabled: true, Primary: []string{"wan1"}, Backup: []string{"wan2"},
		Mode: config.ModeFailover}
	saved := []engagement{{ID: "@link_backup[0]", Primary: []string{"wan1"}, Backup: []string{"wan2"}}}
	tests := []struct {
		name  string
		mod   func(*config.LinkBackup)
		saved []engagement
		want  []string
	}{
		{"same entry", nil, saved, []string{"@link_backup[0]"}},
		{"saved twice", nil, append(saved, saved...), []string{"@link_backup[0]"}},
		{"revert 1 now", func(e *config.LinkBackup) { e.Revert = true }, saved, nil},
		{"disabled now", func(e *config.LinkBackup) { e.Enabled = false }, saved, nil},
		{"timing mode now", func(e *config.LinkBackup) { e.Mode = config.ModeTiming }, saved, nil},
		{"other backup now", func(e *config.LinkBackup) { e.Backup = []string{"wan3"} }, saved, nil},
		{"other primaries now", func(e *config.LinkBackup) { e.Primary = []string{"wan1", "wan3"} }, saved, nil},
		{"entry gone", func(e *config.LinkBackup) { e.ID = "@link_backup[1]" }, saved, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := entry
			if tt.mod != nil {
				tt.mod(&e)
			}
			c := &config.Config{LinkBackups: []config.LinkBackup{e}}
			if got := keepEngaged(tt.saved, c); !slices.Equal(got, tt.want) {
				t.Errorf("kept %v, want %v", got, tt.want)
			}
		})
	}

	c := &config.Config{LinkBackups: []config.LinkBackup{entry}}
	dir := t.TempDir()
	path := filepath.Join(dir, StateName)
	if ids, err := readEngaged(path, c); err != nil || ids != nil {
		t.Errorf("missing file: %v, %v; want nothing engaged, no error", ids, err)
	}
	for _, bad := range []struct{ text, err string }{
		{`{"version":1,"engaged":[{"id":`, "not valid JSON"},
		{`{"version":2,"engaged":[]}`, "version 2, want 1"},
		{``, "not valid JSON"},
	} {
		os.WriteFile(path, []byte(bad.text), 0o644)
		if ids, err := readEngaged(path, c); err == nil || !strings.Contains(err.Error(), bad.err) || ids != nil {
			t.Errorf("file %q: %v, %v; want error %q", bad.text, ids, err, bad.err)
		}
	}
	if err := writeState(path, stateFile{Version: stateVersion, Engaged: saved}); err != nil {
		t.Fatal(err)
	}
	if ids, err := readEngaged(path, c); err != nil || !slices.Equal(ids, []string{"@link_backup[0]"}) {
		t.Errorf("round trip: %v, %v", ids, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".state-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
