package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/plan"
)

// The state file remembers, across daemon restarts, which link backup
// entries have their backups carrying traffic. With revert 0 a backup that
// took over keeps the traffic after the primaries recover; without this
// file a restart (procd respawn, an upgrade, `service wanlb restart`)
// would forget the take-over and move everything back to the primaries.
// It lives in the run directory (tmpfs on OpenWrt): a reboot starts fresh.

// StateName is the state file's name in the run directory.
const StateName = "state.json"

// stateVersion changes when the file's meaning does; other versions are
// ignored rather than misread.
const stateVersion = 1

type stateFile struct {
	Version int          `json:"version"`
	Engaged []engagement `json:"engaged"`
}

// engagement is one engaged link backup entry. The WAN lists are kept so
// that an anonymous entry (@link_backup[0]) whose index now names another
// entry after an edit is not taken for the one that was engaged.
type engagement struct {
	ID      string   `json:"id"`
	Primary []string `json:"primary"`
	Backup  []string `json:"backup"`
}

// saveEngaged writes the state file when p's engaged entries differ from
// the last ones written. A failed write is logged and retried with the
// next plan: routing goes on either way.
func (d *Daemon) saveEngaged(p *plan.Plan) {
	if d.engagedSaved && slices.Equal(p.Engaged, d.savedEngaged) {
		return
	}
	s := stateFile{Version: stateVersion, Engaged: []engagement{}}
	for _, id := range p.Engaged {
		for _, e := range d.cfg.LinkBackups {
			if e.ID == id {
				s.Engaged = append(s.Engaged, engagement{ID: id, Primary: e.Primary, Backup: e.Backup})
			}
		}
	}
	if err := writeState(filepath.Join(d.opts.RunDir, StateName), s); err != nil {
		d.log.Warn("state file: " + err.Error())
		d.engagedSaved = false
		return
	}
	d.savedEngaged, d.engagedSaved = slices.Clone(p.Engaged), true
}

// writeState replaces path atomically: a crash leaves the old file or the
// new one, never a torn one.
func writeState(path string, s stateFile) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// resumeEngaged reads the state file at start and seeds the previous plan
// with the entries that are still engaged, so plan.Compute keeps a revert 0
// take-over. A missing file means nothing was engaged; an unreadable or
// invalid one is reported and ignored.
func (d *Daemon) resumeEngaged() {
	path := filepath.Join(d.opts.RunDir, StateName)
	ids, err := readEngaged(path, d.cfg)
	if err != nil {
		d.log.Warn(fmt.Sprintf("state file %s ignored: %v", path, err))
		return
	}
	if len(ids) == 0 {
		return
	}
	if d.prev == nil {
		d.prev = &plan.Plan{MarkMask: d.cfg.Globals.MarkMask}
	}
	d.prev.Engaged = ids
	d.log.Info(fmt.Sprintf("link backup entries %v keep their take-over from the previous run", ids))
}

// readEngaged reads the state file and returns the engaged entries that
// still mean the same thing in c; see keepEngaged.
func readEngaged(path string, c *config.Config) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s stateFile
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("version %d, want %d", s.Version, stateVersion)
	}
	return keepEngaged(s.Engaged, c), nil
}

// keepEngaged returns the IDs of saved entries that c still has, enabled,
// in failover mode with revert 0 and the same primary and backup WANs:
// only those remember a take-over. An entry edited since is judged afresh.
func keepEngaged(saved []engagement, c *config.Config) []string {
	var out []string
	for _, s := range saved {
		for _, e := range c.LinkBackups {
			if e.ID == s.ID && e.Enabled && e.Mode != config.ModeTiming && !e.Revert &&
				slices.Equal(e.Primary, s.Primary) && slices.Equal(e.Backup, s.Backup) &&
				!slices.Contains(out, e.ID) {
				out = append(out, e.ID)
			}
		}
	}
	return out
}
