package webui

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/wanlb/wanlb/internal/config"
)

// TestSchemaEndpoint: the pages get the schema's limits and defaults from
// the API, not from copies of their own.
func TestSchemaEndpoint(t *testing.T) {
	h := newHarness(t)
	h.login("root", "secret")
	w := h.do("GET", "/api/schema", "", false)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /api/schema: %d %s", w.Code, w.Body)
	}
	var got map[string]map[string]config.Option
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	weight := got["wan"]["weight"]
	if weight.Max != config.MaxWeight || weight.Min != 1 || weight.Default != "1" {
		t.Errorf("wan.weight = %+v", weight)
	}
	if iv := got["wan"]["interval"]; iv.Min != config.MinInterval.Seconds() || iv.Kind != config.KindSeconds {
		t.Errorf("wan.interval = %+v", iv)
	}
	for _, sec := range config.Schema() {
		for _, o := range sec.Options {
			if !reflect.DeepEqual(got[sec.Type][o.Name], o) {
				t.Errorf("%s.%s = %+v, want %+v", sec.Type, o.Name, got[sec.Type][o.Name], o)
			}
		}
	}
}

// TestConfigFromTyped: GET /api/config shows what the daemon runs (the
// validated config, defaults filled in), not the file's spelling.
func TestConfigFromTyped(t *testing.T) {
	h := newHarness(t)
	text := startConfig + `
config link_backup
	option primary 'wan'
	option backup 'wanb'
	option weekdays 'fri,monday'
	option start_time '8:30'

config rule
	option proto 'tcp'
	option dest_port '443,80 1000-2000'
	option src_ip '198.18.0.5/24 198.18.1.1'
	list wan 'wanb'
	option enabled 'off'
`
	if err := os.WriteFile(filepath.Join(h.dir, "wanlb"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	h.login("root", "secret")
	w := h.do("GET", "/api/config", "", false)
	var cfg configJSON
	if err := json.Unmarshal(w.Body.Bytes(), &cfg); err != nil || w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	wantLB := linkBackupJSON{ID: 0, Enabled: true, Primary: []string{"wan"}, Backup: []string{"wanb"}, Mode: "failover",
		Trigger: "any", Revert: true, Weekdays: "Mon Fri", StartTime: "08:30", StopTime: "24:00"}
	if !reflect.DeepEqual(cfg.LinkBackups, []linkBackupJSON{wantLB}) {
		t.Errorf("link backups:\n%+v\nwant\n%+v", cfg.LinkBackups, wantLB)
	}
	wantRule := ruleJSON{ID: 0, Enabled: false, Proto: "tcp", SrcIP: []string{"198.18.0.0/24", "198.18.1.1"}, DestIP: []string{},
		DestPort: "443 80 1000-2000", WAN: []string{"wanb"}, Fallback: true}
	if !reflect.DeepEqual(cfg.Rules, []ruleJSON{wantRule}) {
		t.Errorf("rules:\n%+v\nwant\n%+v", cfg.Rules, wantRule)
	}
	// What the page shows, sent back, validates and changes nothing the
	// daemon runs.
	body, _ := json.Marshal(cfg.LinkBackups[0])
	if w := h.do("PUT", "/api/config/link_backups/0", string(body), true); w.Code != http.StatusOK {
		t.Errorf("PUT of the shown entry: %d %s", w.Code, w.Body)
	}
	body, _ = json.Marshal(cfg.Rules[0])
	if w := h.do("PUT", "/api/config/rules/0", string(body), true); w.Code != http.StatusOK {
		t.Errorf("PUT of the shown rule: %d %s", w.Code, w.Body)
	}
	var again configJSON
	json.Unmarshal(h.do("GET", "/api/config", "", false).Body.Bytes(), &again)
	if !reflect.DeepEqual(again, cfg) {
		t.Errorf("after writing back:\n%+v\nwant\n%+v", again, cfg)
	}
}
