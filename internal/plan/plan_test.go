package plan

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
)

// cfg builds a config with WANs named w1..wN (weight i for "w<i>:<weight>").
func cfg(wans ...string) *config.Config {
	c := &config.Config{Globals: config.Globals{Enabled: true, LoadBalancing: true, LastResort: config.LastResortDefault, MarkMask: 0x3f000000}}
	for _, w := range wans {
		name, weight, _ := strings.Cut(w, ":")
		n := 1
		if weight != "" {
			fmt.Sscan(weight, &n)
		}
		c.WANs = append(c.WANs, config.WAN{Name: name, Enabled: true, Weight: n, Detection: config.DetectManual})
	}
	return c
}

// st builds states: "w1" online, "-w1" carrier but offline, "!w1" no carrier.
func st(spec ...string) map[string]WANState {
	m := map[string]WANState{}
	for i, s := range spec {
		s2 := strings.TrimLeft(s, "-!")
		m[s2] = WANState{
			Device:  "eth" + fmt.Sprint(i+1),
			Gateway: netip.AddrFrom4([4]byte{198, 18, byte(10 + i + 1), 1}),
			Carrier: !strings.HasPrefix(s, "!"),
			Online:  s == s2,
		}
	}
	return m
}

// shares renders a group as "w1=0.75 w2=0.25", or its action.
func shares(g Group) string {
	if g.Action != Balance {
		return g.Action.String()
	}
	var parts []string
	for _, m := range g.Members {
		parts = append(parts, fmt.Sprintf("%s=%.2f", m.WAN, m.Share))
	}
	return strings.Join(parts, " ")
}

func backup(primary, backupWANs []string, mode config.BackupMode, all, revert bool) config.LinkBackup {
	return config.LinkBackup{ID: "@link_backup[0]", Enabled: true, Primary: primary, Backup: backupWANs, Mode: mode,
		TriggerAll: all, Revert: revert, Schedule: config.Schedule{Stop: 24 * 60}}
}

var monday = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestDefaultGroup(t *testing.T) {
	tests := []struct {
		name   string
		config *config.Config
		states map[string]WANState
		mod    func(*config.Config)
		want   string
	}{
		{"weights 3:1", cfg("w1:3", "w2:1"), st("w1", "w2"), nil, "w1=0.75 w2=0.25"},
		{"offline WAN leaves", cfg("w1:3", "w2:1", "w3:1"), st("w1", "-w2", "w3"), nil, "w1=0.75 w3=0.25"},
		{"no carrier leaves", cfg("w1", "w2"), st("!w1", "w2"), nil, "w2=1.00"},
		{"disabled WAN leaves", cfg("w1", "w2"), st("w1", "w2"), func(c *config.Config) { c.WANs[0].Enabled = false }, "w2=1.00"},
		{"WAN without device leaves", cfg("w1", "w2"), map[string]WANState{"w2": st("w2")["w2"]}, nil, "w2=1.00"},
		{"always_online ignores probes", cfg("w1", "w2"), st("-w1", "-w2"), func(c *config.Config) { c.WANs[1].Detection = config.DetectAlwaysOnline }, "w2=1.00"},
		{"always_online needs carrier", cfg("w1", "w2"), st("w1", "!w2"), func(c *config.Config) { c.WANs[1].Detection = config.DetectAlwaysOnline }, "w1=1.00"},
		{"bandwidth based", cfg("w1:1", "w2:1"), st("w1", "w2"), func(c *config.Config) {
			c.Globals.BandwidthBased = true
			c.WANs[0].Downstream, c.WANs[1].Downstream = 200000, 100000
		}, "w1=0.67 w2=0.33"},
		{"load balancing off: first in file order", cfg("w1:1", "w2:5"), st("w1", "w2"), func(c *config.Config) { c.Globals.LoadBalancing = false }, "w1=1.00"},
		{"load balancing off: next when first is offline", cfg("w1:1", "w2:5", "w3"), st("-w1", "w2", "w3"), func(c *config.Config) { c.Globals.LoadBalancing = false }, "w2=1.00"},
		{"nothing online: carrier WANs", cfg("w1:3", "w2:1", "w3"), st("-w1", "-w2", "!w3"), nil, "w1=0.75 w2=0.25"},
		{"nothing online, load balancing off", cfg("w1", "w2"), st("-w1", "-w2"), func(c *config.Config) { c.Globals.LoadBalancing = false }, "w1=1.00"},
		{"no carrier anywhere: default", cfg("w1", "w2"), st("!w1", "!w2"), nil, "main"},
		{"no carrier anywhere: unreachable", cfg("w1"), st("!w1"), func(c *config.Config) { c.Globals.LastResort = config.LastResortUnreachable }, "unreachable"},
		{"no carrier anywhere: blackhole", cfg("w1"), st("!w1"), func(c *config.Config) { c.Globals.LastResort = config.LastResortBlackhole }, "blackhole"},
		{"no WANs at all", cfg(), nil, nil, "main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mod != nil {
				tt.mod(tt.config)
			}
			p := Compute(Input{Config: tt.config, States: tt.states, Now: monday})
			if got := shares(p.Default); got != tt.want {
				t.Errorf("default group = %s, want %s", got, tt.want)
			}
			for _, w := range p.WANs {
				var inDefault bool
				for _, m := range p.Default.Members {
					inDefault = inDefault || m.WAN == w.Name
				}
				if w.Active != inDefault {
					t.Errorf("%s active=%v but in default group=%v", w.Name, w.Active, inDefault)
				}
			}
		})
	}
}

func TestDisabledGlobally(t *testing.T) {
	c := cfg("w1")
	c.Globals.Enabled = false
	p := Compute(Input{Config: c, States: st("w1"), Now: monday})
	if p.Enabled || len(p.WANs) != 0 {
		t.Fatalf("disabled config planned %+v", p)
	}
}

// step is one moment in a sequence of states fed to Compute with the
// previous plan, as the daemon does.
type step struct {
	states  []string
	want    string
	standby string // comma-separated standby WANs
}

func runSteps(t *testing.T, c *config.Config, now time.Time, steps []step) {
	t.Helper()
	var prev *Plan
	for i, s := range steps {
		p := Compute(Input{Config: c, States: st(s.states...), Prev: prev, Now: now})
		if got := shares(p.Default); got != s.want {
			t.Errorf("step %d %v: default = %s, want %s", i, s.states, got, s.want)
		}
		var sb []string
		for _, w := range p.WANs {
			if w.Standby {
				sb = append(sb, w.Name)
			}
		}
		if got := strings.Join(sb, ","); got != s.standby {
			t.Errorf("step %d %v: standby = %q, want %q", i, s.states, got, s.standby)
		}
		prev = p
	}
}

func TestLinkBackupFailover(t *testing.T) {
	tests := []struct {
		name  string
		entry config.LinkBackup
		wans  []string
		steps []step
	}{
		{"revert 1: back to the primary when it recovers", backup([]string{"w1"}, []string{"w2"}, config.ModeFailover, false, true), []string{"w1", "w2"}, []step{
			{[]string{"w1", "w2"}, "w1=1.00", "w2"},
			{[]string{"-w1", "w2"}, "w2=1.00", ""},
			{[]string{"w1", "w2"}, "w1=1.00", "w2"},
		}},
		{"revert 0: stays on the backup until it fails", backup([]string{"w1"}, []string{"w2"}, config.ModeFailover, false, false), []string{"w1", "w2"}, []step{
			{[]string{"w1", "w2"}, "w1=1.00", "w2"},
			{[]string{"-w1", "w2"}, "w2=1.00", ""},
			{[]string{"w1", "w2"}, "w2=1.00", "w1"},
			{[]string{"w1", "w2"}, "w2=1.00", "w1"},
			{[]string{"w1", "-w2"}, "w1=1.00", "w2"},
			{[]string{"w1", "w2"}, "w1=1.00", "w2"},
		}},
		{"trigger any: backup joins the surviving primary", backup([]string{"w1", "w2"}, []string{"w3"}, config.ModeFailover, false, true), []string{"w1", "w2", "w3"}, []step{
			{[]string{"w1", "w2", "w3"}, "w1=0.50 w2=0.50", "w3"},
			{[]string{"-w1", "w2", "w3"}, "w2=0.50 w3=0.50", ""},
			{[]string{"-w1", "-w2", "w3"}, "w3=1.00", ""},
		}},
		{"trigger all: waits for every primary", backup([]string{"w1", "w2"}, []string{"w3"}, config.ModeFailover, true, true), []string{"w1", "w2", "w3"}, []step{
			{[]string{"w1", "w2", "w3"}, "w1=0.50 w2=0.50", "w3"},
			{[]string{"-w1", "w2", "w3"}, "w2=1.00", "w3"},
			{[]string{"-w1", "-w2", "w3"}, "w3=1.00", ""},
			{[]string{"-w1", "w2", "w3"}, "w2=1.00", "w3"},
		}},
		{"backup dead too: carrier fallback over all", backup([]string{"w1"}, []string{"w2"}, config.ModeFailover, false, true), []string{"w1", "w2"}, []step{
			{[]string{"-w1", "-w2"}, "w1=0.50 w2=0.50", "w2"},
		}},
		{"revert 0 memory ends when the backup fails", backup([]string{"w1"}, []string{"w2"}, config.ModeFailover, false, false), []string{"w1", "w2"}, []step{
			{[]string{"-w1", "w2"}, "w2=1.00", ""},
			{[]string{"-w1", "-w2"}, "w1=0.50 w2=0.50", "w2"},
			{[]string{"w1", "w2"}, "w1=1.00", "w2"},
		}},
		{"two backups share by weight", backup([]string{"w1"}, []string{"w2", "w3"}, config.ModeFailover, false, true), []string{"w1", "w2:3", "w3:1"}, []step{
			{[]string{"w1", "w2", "w3"}, "w1=1.00", "w2,w3"},
			{[]string{"-w1", "w2", "w3"}, "w2=0.75 w3=0.25", ""},
		}},
		{"timing: backups carry inside the time", backup([]string{"w1"}, []string{"w2"}, config.ModeTiming, false, true), []string{"w1", "w2"}, []step{
			{[]string{"w1", "w2"}, "w2=1.00", "w1"},
			{[]string{"w1", "-w2"}, "w1=1.00", "w2"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg(tt.wans...)
			c.LinkBackups = []config.LinkBackup{tt.entry}
			runSteps(t, c, monday, tt.steps)
		})
	}
}

func TestLinkBackupSchedule(t *testing.T) {
	c := cfg("w1", "w2")
	e := backup([]string{"w1"}, []string{"w2"}, config.ModeTiming, false, true)
	e.Schedule = config.Schedule{Start: 22 * 60, Stop: 6 * 60}
	e.Schedule.Days[time.Friday] = true
	c.LinkBackups = []config.LinkBackup{e}
	fri := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) // a Friday
	tests := []struct {
		at   time.Time
		want string
	}{
		{fri.Add(21*time.Hour + 59*time.Minute), "w1=0.50 w2=0.50"}, // Friday before the window: entry not in effect, both balance
		{fri.Add(22 * time.Hour), "w2=1.00"},                        // Friday night
		{fri.Add(29 * time.Hour), "w2=1.00"},                        // Saturday 05:00, same window
		{fri.Add(30 * time.Hour), "w1=0.50 w2=0.50"},                // Saturday 06:00
		{fri.Add(46 * time.Hour), "w1=0.50 w2=0.50"},                // Saturday 22:00: not a listed day
		{fri.Add(-24*time.Hour + 2*time.Hour), "w1=0.50 w2=0.50"},   // Thursday 02:00: Wednesday is not listed
	}
	for _, tt := range tests {
		p := Compute(Input{Config: c, States: st("w1", "w2"), Now: tt.at})
		if got := shares(p.Default); got != tt.want {
			t.Errorf("%s: default = %s, want %s", tt.at.Format("Mon 15:04"), got, tt.want)
		}
	}

	// Outside its effective time a failover entry does not hold its backup.
	c.LinkBackups[0].Mode = config.ModeFailover
	p := Compute(Input{Config: c, States: st("w1", "w2"), Now: fri.Add(12 * time.Hour)})
	if got := shares(p.Default); got != "w1=0.50 w2=0.50" {
		t.Errorf("failover entry outside its time: %s", got)
	}
	p = Compute(Input{Config: c, States: st("w1", "w2"), Now: fri.Add(23 * time.Hour)})
	if got := shares(p.Default); got != "w1=1.00" {
		t.Errorf("failover entry inside its time: %s", got)
	}
}

func TestRules(t *testing.T) {
	rule := func(fallback bool, wans ...string) config.Rule {
		return config.Rule{ID: "@rule[0]", Enabled: true, Proto: config.ProtoUDP, WANs: wans, Fallback: fallback}
	}
	tests := []struct {
		name   string
		rule   config.Rule
		states []string
		want   string
	}{
		{"pins to its WAN", rule(true, "w2"), []string{"w1", "w2", "w3"}, "w2=1.00"},
		{"balances its WANs by weight", rule(true, "w1", "w3"), []string{"w1", "w2", "w3"}, "w1=0.75 w3=0.25"},
		{"narrows to the online ones", rule(true, "w1", "w2"), []string{"-w1", "w2", "w3"}, "w2=1.00"},
		{"fallback 1: any online WAN", rule(true, "w2"), []string{"w1", "-w2", "w3"}, "w1=0.75 w3=0.25"},
		{"fallback 0: dropped", rule(false, "w2"), []string{"w1", "-w2", "w3"}, "blackhole"},
		{"fallback 1, nothing online: carrier fallback", rule(true, "w2"), []string{"-w1", "-w2", "!w3"}, "w1=0.75 w2=0.25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg("w1:3", "w2:1", "w3:1")
			disabled := tt.rule
			disabled.Enabled = false
			c.Rules = []config.Rule{disabled, tt.rule}
			p := Compute(Input{Config: c, States: st(tt.states...), Now: monday})
			if len(p.Rules) != 1 {
				t.Fatalf("plan has %d rules, want the enabled one only", len(p.Rules))
			}
			if got := shares(p.Rules[0].Group); got != tt.want {
				t.Errorf("rule group = %s, want %s", got, tt.want)
			}
		})
	}

	// A standby backup still carries the traffic a rule pins to it.
	c := cfg("w1", "w2")
	c.LinkBackups = []config.LinkBackup{backup([]string{"w1"}, []string{"w2"}, config.ModeFailover, false, true)}
	c.Rules = []config.Rule{rule(false, "w2")}
	p := Compute(Input{Config: c, States: st("w1", "w2"), Now: monday})
	w2, _ := p.WAN("w2")
	if got := shares(p.Rules[0].Group); got != "w2=1.00" || !w2.Standby || !w2.Active {
		t.Errorf("rule to a standby WAN: group %s, standby %v active %v", got, w2.Standby, w2.Active)
	}
}

func TestMarksStayStable(t *testing.T) {
	c := cfg("w1", "w2", "w3")
	p1 := Compute(Input{Config: c, States: st("w1", "w2", "w3"), Now: monday})
	marks := func(p *Plan) string {
		var s []string
		for _, w := range p.WANs {
			s = append(s, fmt.Sprintf("%s:%d", w.Name, w.Mark))
		}
		sort.Strings(s)
		return strings.Join(s, " ")
	}
	if got := marks(p1); got != "w1:1 w2:2 w3:3" {
		t.Fatalf("first marks %s", got)
	}
	// w1 removed from the file and a new WAN added in front: the others
	// keep their marks, the new one takes the free index.
	c2 := cfg("w0", "w2", "w3")
	p2 := Compute(Input{Config: c2, States: map[string]WANState{"w0": st("w1")["w1"], "w2": st("w1", "w2")["w2"], "w3": st("w1", "w2", "w3")["w3"]}, Prev: p1, Now: monday})
	if got := marks(p2); got != "w0:1 w2:2 w3:3" {
		t.Fatalf("marks after change %s", got)
	}
	// Without a previous plan, file order.
	if got := marks(Compute(Input{Config: c2, States: st("w0", "w2", "w3"), Now: monday})); got != "w0:1 w2:2 w3:3" {
		t.Fatalf("fresh marks %s", got)
	}
	// After a restart: the marks the kernel holds (sticky), unusable ones
	// (outside the mask, reserved, taken twice) ignored; a previous plan
	// wins over them.
	held := map[string]uint32{"w0": 3, "w2": 61, "w3": 3}
	if got := marks(Compute(Input{Config: c2, States: st("w0", "w2", "w3"), Marks: held, Now: monday})); got != "w0:3 w2:61 w3:1" {
		t.Fatalf("adopted marks %s", got)
	}
	held = map[string]uint32{"w0": 62, "w2": 63, "w3": 2}
	if got := marks(Compute(Input{Config: c2, States: st("w0", "w2", "w3"), Marks: held, Now: monday})); got != "w0:1 w2:3 w3:2" {
		t.Fatalf("reserved marks adopted: %s", got)
	}
	if got := marks(Compute(Input{Config: c2, States: st("w0", "w2", "w3"), Prev: p2, Marks: map[string]uint32{"w0": 5}, Now: monday})); got != "w0:1 w2:2 w3:3" {
		t.Fatalf("held marks beat the previous plan: %s", got)
	}
}

// TestDNSPinnedOnlyWhileUsable: a WAN's resolvers are pinned to it while
// it works (or carries traffic as the last resort); while it is down they
// are left to the balancing, so queries to them leave by a WAN that is up.
func TestDNSPinnedOnlyWhileUsable(t *testing.T) {
	withDNS := func(s map[string]WANState) map[string]WANState {
		for name, w := range s {
			w.DNS = []netip.Addr{netip.MustParseAddr("198.18.100.5" + name[1:])}
			s[name] = w
		}
		return s
	}
	standby := func(c *config.Config) {
		c.LinkBackups = []config.LinkBackup{backup([]string{"w1"}, []string{"w2"}, config.ModeFailover, false, true)}
	}
	tests := []struct {
		name   string
		states map[string]WANState
		mod    func(*config.Config)
		want   string // WANs whose DNS the plan pins
	}{
		{"both online", st("w1", "w2"), nil, "w1 w2"},
		{"w1 offline", st("-w1", "w2"), nil, "w2"},
		{"w1 without carrier", st("!w1", "w2"), nil, "w2"},
		{"w1 back online", st("w1", "w2"), nil, "w1 w2"},
		{"nothing online: the WANs with carrier carry, pinned", st("-w1", "-w2"), nil, "w1 w2"},
		{"nothing online, w1 without carrier", st("!w1", "-w2"), nil, "w2"},
		{"standby backup that works stays pinned", st("w1", "w2"), standby, "w1 w2"},
		{"dead standby backup", st("w1", "-w2"), standby, "w1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg("w1", "w2")
			if tt.mod != nil {
				tt.mod(c)
			}
			p := Compute(Input{Config: c, States: withDNS(tt.states), Now: monday})
			var pinned []string
			for _, w := range p.WANs {
				if len(w.DNS) > 0 {
					if want := "198.18.100.5" + w.Name[1:]; w.DNS[0].String() != want {
						t.Errorf("%s DNS %v, want %s", w.Name, w.DNS, want)
					}
					pinned = append(pinned, w.Name)
				}
			}
			if got := strings.Join(pinned, " "); got != tt.want {
				t.Errorf("DNS pinned for %q, want %q", got, tt.want)
			}
		})
	}
}
