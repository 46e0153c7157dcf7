package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/uciconf"
)

func parse(t testing.TB, text string) (*Config, []Problem) {
	t.Helper()
	f, err := uciconf.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return FromUCI(f)
}

func lines(ps []Problem) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return strings.Join(out, "\n")
}

func TestDefaults(t *testing.T) {
	c, ps := parse(t, "config wan 'wan'\n")
	if c == nil {
		t.Fatalf("problems: %s", lines(ps))
	}
	g := c.Globals
	if !g.Enabled || !g.LoadBalancing || g.AppOptimized || g.BandwidthBased || g.LastResort != LastResortDefault ||
		!g.FlushConntrack || g.MarkMask != 0x3f000000 || g.Hook != "/etc/wanlb.user" || g.LogLevel != "info" || g.Backend != "auto" {
		t.Errorf("globals defaults: %+v", g)
	}
	u := c.UI
	if !u.Enabled || len(u.Listen) != 1 || u.Listen[0] != "lan:8088" || u.Auth != "system" || u.SessionTimeout != time.Hour ||
		u.Cert != "/etc/uhttpd.crt" || u.Key != "/etc/uhttpd.key" {
		t.Errorf("ui defaults: %+v", u)
	}
	w := c.WANs[0]
	if !w.Enabled || w.Label != "" || w.DisplayName() != "wan" || w.Weight != 1 || w.Detection != DetectAuto || w.Reliability != 1 ||
		w.Interval != time.Second || w.Timeout != time.Second || w.Down != 3 || w.Up != 3 || w.MaxLatency != 0 || w.MaxLoss != 0 ||
		!w.Passive || w.PassiveWindow != 400*time.Millisecond {
		t.Errorf("wan defaults: %+v", w)
	}
}

const full = `
config globals 'globals'
	option enabled 'yes'
	option load_balancing 'on'
	option app_optimized 'true'
	option bandwidth_based '1'
	option last_resort 'unreachable'
	option flush_conntrack 'off'
	option mark_mask '0x0f000000'
	option backend 'iptables'
	option hook '/etc/hook.sh'
	option log_level 'debug'

config ui 'ui'
	list listen 'lan:8088'
	list listen '198.18.1.1:8443'
	option auth 'password'
	option password_hash '$6$salt$hash'
	option session_timeout '600'
	option cert '/etc/ssl/wanlb.crt'
	option key '/etc/ssl/wanlb.key'

config wan 'wan'
	option label 'Fibre'
	option device 'eth0.2'
	option gateway '198.18.11.1'
	option weight '3'
	option upstream '50000'
	option downstream '500000'
	option detection 'manual'
	list track '198.18.100.1'
	list track 'dns://198.18.100.1/example.test'
	list track 'http://198.18.100.1/health'
	list track 'tcp://198.18.100.1:443'
	option reliability '2'
	option interval '0.5'
	option timeout '0.8'
	option down '5'
	option up '4'
	option max_latency '250'
	option max_loss '20'
	option passive '0'
	option passive_window '1.5'

config wan 'lte'
	option device 'wwan0'
	option downstream '20000'
	option detection 'always_online'

config link_backup
	option name 'LTE backup'
	list primary 'wan'
	list backup 'lte'
	option mode 'timing'
	option trigger 'all'
	option revert '0'
	option weekdays 'Mon Tue Wed'
	option start_time '22:00'
	option stop_time '06:30'

config rule 'voip'
	option proto 'udp'
	list src_ip '198.18.1.0/24'
	list src_ip '198.18.2.10-198.18.2.20'
	list dest_ip '198.19.0.1'
	option dest_port '5060 10000-20000'
	list wan 'lte'
	option fallback '0'
`

func TestFullConfig(t *testing.T) {
	c, ps := parse(t, full)
	if c == nil || len(ps) != 0 {
		t.Fatalf("problems: %s", lines(ps))
	}
	g := c.Globals
	if !g.AppOptimized || !g.BandwidthBased || g.LastResort != LastResortUnreachable || g.FlushConntrack || g.MarkMask != 0x0f000000 || g.LogLevel != "debug" || g.Backend != "iptables" {
		t.Errorf("globals: %+v", g)
	}
	if len(c.UI.Listen) != 2 || c.UI.Auth != "password" || c.UI.SessionTimeout != 10*time.Minute ||
		c.UI.Cert != "/etc/ssl/wanlb.crt" || c.UI.Key != "/etc/ssl/wanlb.key" {
		t.Errorf("ui: %+v", c.UI)
	}
	w := c.WANs[0]
	if w.DisplayName() != "Fibre" || w.Device != "eth0.2" || w.Gateway.String() != "198.18.11.1" || w.Weight != 3 || w.Downstream != 500000 ||
		len(w.Track) != 4 || w.Reliability != 2 || w.Interval != 500*time.Millisecond || w.Timeout != 800*time.Millisecond ||
		w.Down != 5 || w.Up != 4 || w.MaxLatency != 250*time.Millisecond || w.MaxLoss != 20 ||
		w.Passive || w.PassiveWindow != 1500*time.Millisecond {
		t.Errorf("wan: %+v", w)
	}
	kinds := []TargetKind{TargetICMP, TargetDNS, TargetHTTP, TargetTCP}
	for i, k := range kinds {
		if w.Track[i].Kind != k {
			t.Errorf("track %d kind %s, want %s", i, w.Track[i].Kind, k)
		}
	}
	if w.Track[1].Host != "example.test" || w.Track[1].Port != 53 || w.Track[3].Port != 443 {
		t.Errorf("targets: %+v", w.Track)
	}
	b := c.LinkBackups[0]
	if b.ID != "@link_backup[0]" || b.Mode != ModeTiming || !b.TriggerAll || b.Revert || b.Schedule.Start != 22*60 || b.Schedule.Stop != 6*60+30 ||
		!b.Schedule.Days[time.Monday] || b.Schedule.Days[time.Sunday] {
		t.Errorf("link backup: %+v", b)
	}
	r := c.Rules[0]
	if r.ID != "voip" || r.Proto != ProtoUDP || len(r.SrcIP) != 2 || !r.SrcIP[1].IsRange() || r.DestIP[0].String() != "198.19.0.1" ||
		len(r.DestPort) != 2 || r.DestPort[1] != (PortRange{10000, 20000}) || r.Fallback || r.WANs[0] != "lte" {
		t.Errorf("rule: %+v", r)
	}
}

// Every problem is one line naming section and option, all reported at once.
func TestProblems(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"bad boolean", "config globals 'globals'\n\toption enabled 'maybe'\n",
			"wanlb.globals.enabled: must be a boolean: 0/1, on/off, true/false, yes/no (got 'maybe')"},
		{"weight range", "config wan 'wan'\n\toption weight '0'\n", "wanlb.wan.weight: must be between 1 and 100 (got '0')"},
		{"weight not a number", "config wan 'wan'\n\toption weight 'x'\n", "wanlb.wan.weight: must be a whole number (got 'x')"},
		{"passive window too short", "config wan 'wan'\n\toption passive_window '0.1'\n", "wanlb.wan.passive_window: must be between 0.2 and 10 seconds (got '0.1')"},
		{"passive window not a number", "config wan 'wan'\n\toption passive_window 'soon'\n", "wanlb.wan.passive_window: must be a number of seconds (got 'soon')"},
		{"passive not a boolean", "config wan 'wan'\n\toption passive 'maybe'\n", "wanlb.wan.passive: must be a boolean: 0/1, on/off, true/false, yes/no (got 'maybe')"},
		{"interval too short", "config wan 'wan'\n\toption interval '0.1'\n", "wanlb.wan.interval: must be between 0.2 and 3600 seconds (got '0.1')"},
		{"bad device", "config wan 'wan'\n\toption device 'eth0 -j DROP'\n", "wanlb.wan.device: must be a network device name (letters, digits, '_', '.', '-', at most 15) (got 'eth0 -j DROP')"},
		{"bad gateway", "config wan 'wan'\n\toption gateway '198.18.1'\n", "wanlb.wan.gateway: must be an IP address (got '198.18.1')"},
		{"ipv6 gateway", "config wan 'wan'\n\toption gateway '2001:db8::1'\n", "wanlb.wan.gateway: must be an IPv4 address (the IPv6 next hop is gateway6) (got '2001:db8::1')"},
		{"manual without targets", "config wan 'wan'\n\toption detection 'manual'\n", "wanlb.wan.track: detection 'manual' needs at least one track target"},
		{"bad target", "config wan 'wan'\n\tlist track 'ftp://x'\n", "wanlb.wan.track: unknown target type \"ftp\" (IP, dns://, http://, https://, tcp://) (got 'ftp://x')"},
		{"bad tcp target", "config wan 'wan'\n\tlist track 'tcp://host'\n", "wanlb.wan.track: must be tcp://HOST:PORT (got 'tcp://host')"},
		{"reliability over targets", "config wan 'wan'\n\toption detection 'manual'\n\tlist track '198.18.100.1'\n\toption reliability '2'\n",
			"wanlb.wan.reliability: is more than the 1 track targets (got '2')"},
		{"anonymous wan", "config wan\n\toption weight '1'\n", "wanlb.@wan[0]: a wan section must be named after its netifd interface (config wan 'wan2')"},
		{"single value given as list", "config wan 'wan'\n\tlist weight '1'\n\tlist weight '2'\n", "wanlb.wan.weight: takes one value, not a list (got '1 2')"},
		{"mark mask overlaps mwan3", "config globals 'globals'\n\toption mark_mask '0x3f00'\n",
			"wanlb.globals.mark_mask: overlaps marks used by mwan3 (0x3f00), pbr or Tailscale (0xff0000) (got '0x3f00')"},
		{"mark mask not contiguous", "config globals 'globals'\n\toption mark_mask '0x50000000'\n", "wanlb.globals.mark_mask: must be one contiguous run of bits (got '0x50000000')"},
		{"last resort", "config globals 'globals'\n\toption last_resort 'drop'\n", "wanlb.globals.last_resort: must be one of: default, unreachable, blackhole (got 'drop')"},
		{"backend", "config globals 'globals'\n\toption backend 'nft'\n", "wanlb.globals.backend: must be one of: auto, nftables, iptables (got 'nft')"},
		{"relative hook", "config globals 'globals'\n\toption hook 'hook.sh'\n", "wanlb.globals.hook: must be an absolute path (got 'hook.sh')"},
		{"listen", "config ui 'ui'\n\tlist listen 'lan'\n", "wanlb.ui.listen: must be <interface>:<port> or <ip>:<port> (got 'lan')"},
		{"metrics without allow list", "config ui 'ui'\n\toption metrics '1'\n", "wanlb.ui.metrics_allow: must list who may read /metrics when metrics is on (e.g. '127.0.0.1' or '198.18.1.0/24')"},
		{"bad metrics_allow", "config ui 'ui'\n\toption metrics '1'\n\tlist metrics_allow 'lan'\n", "wanlb.ui.metrics_allow: must be an IP address or CIDR (got 'lan')"},
		{"relative cert", "config ui 'ui'\n\toption cert 'uhttpd.crt'\n", "wanlb.ui.cert: must be an absolute path like '/etc/uhttpd.crt' (got 'uhttpd.crt')"},
		{"unclean key", "config ui 'ui'\n\toption key '/etc/../tmp/k'\n", "wanlb.ui.key: must be an absolute path like '/etc/uhttpd.crt' (got '/etc/../tmp/k')"},
		{"password auth without hash", "config ui 'ui'\n\toption auth 'password'\n", "wanlb.ui.password_hash: must be set when auth is 'password' (use 'wanlb passwd')"},
		{"backup of unknown wan", "config wan 'wan'\nconfig link_backup\n\tlist primary 'wan'\n\tlist backup 'wanb'\n", "wanlb.@link_backup[0].backup: is not a wan section (got 'wanb')\nwanlb.@link_backup[0].backup: needs at least one backup WAN"},
		{"backup is primary", "config wan 'wan'\nconfig link_backup\n\tlist primary 'wan'\n\tlist backup 'wan'\n", "wanlb.@link_backup[0].backup: is also a primary WAN of this entry (got 'wan')"},
		{"bad weekday", "config wan 'a'\nconfig wan 'b'\nconfig link_backup\n\tlist primary 'a'\n\tlist backup 'b'\n\toption weekdays 'Mon Funday'\n",
			"wanlb.@link_backup[0].weekdays: unknown weekday \"Funday\" (use Mon Tue Wed Thu Fri Sat Sun) (got 'Mon Funday')"},
		{"bad time", "config wan 'a'\nconfig wan 'b'\nconfig link_backup\n\tlist primary 'a'\n\tlist backup 'b'\n\toption start_time '25:00'\n",
			"wanlb.@link_backup[0].start_time: must be HH:MM between 00:00 and 23:59 (got '25:00')"},
		{"equal times", "config wan 'a'\nconfig wan 'b'\nconfig link_backup\n\tlist primary 'a'\n\tlist backup 'b'\n\toption start_time '10:00'\n\toption stop_time '10:00'\n",
			"wanlb.@link_backup[0].stop_time: equals start_time; leave both empty for all day (got '10:00')"},
		{"rule ports without proto", "config wan 'wan'\nconfig rule\n\tlist wan 'wan'\n\toption dest_port '80'\n", "wanlb.@rule[0].proto: ports need proto tcp, udp or tcpudp (got 'all')"},
		{"rule bad port", "config wan 'wan'\nconfig rule\n\tlist wan 'wan'\n\toption proto 'tcp'\n\toption dest_port '80 70000'\n",
			"wanlb.@rule[0].dest_port: must be ports 1-65535: '80', '80 443' or '10000-20000' (got '80 70000')"},
		{"rule bad range", "config wan 'wan'\nconfig rule\n\tlist wan 'wan'\n\tlist src_ip '198.18.0.9-198.18.0.1'\n", "wanlb.@rule[0].src_ip: range ends before it starts (got '198.18.0.9-198.18.0.1')"},
		{"rule without wan", "config wan 'wan'\nconfig rule\n\toption proto 'tcp'\n", "wanlb.@rule[0].wan: needs at least one WAN"},
		{"second rule indexed", "config wan 'wan'\nconfig rule\n\tlist wan 'wan'\nconfig rule\n\tlist wan 'nope'\n", "wanlb.@rule[1].wan: is not a wan section (got 'nope')\nwanlb.@rule[1].wan: needs at least one WAN"},
		{"bandwidth based needs downstream", "config globals 'globals'\n\toption bandwidth_based '1'\nconfig wan 'wan'\n",
			"wanlb.wan.downstream: must be set when bandwidth_based is on (shares follow each WAN's downstream) (got '0')"},
		{"same device twice", "config wan 'a'\n\toption device 'eth1'\nconfig wan 'b'\n\toption device 'eth1'\n", "wanlb.b.device: is also the device of wan 'a' (got 'eth1')"},
		{"apostrophe in value is quoted back", "config wan 'wan'\n\toption weight 'Bob'\\''s'\n", "wanlb.wan.weight: must be a whole number (got 'Bob's')"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ps := parse(t, tt.text)
			if c != nil {
				t.Errorf("config accepted")
			}
			if got := lines(Errors(ps)); got != tt.want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	_, ps := parse(t, "config globals 'globals'\n\toption enabled 'x'\n\toption log_level 'loud'\nconfig wan 'wan'\n\toption weight '500'\n")
	if n := len(Errors(ps)); n != 3 {
		t.Fatalf("%d problems, want 3:\n%s", n, lines(ps))
	}
}

func TestWarningsDoNotStop(t *testing.T) {
	c, ps := parse(t, "config wan 'wan'\n\toption colour 'blue'\nconfig frobnicate\n")
	if c == nil {
		t.Fatalf("rejected: %s", lines(ps))
	}
	want := "wanlb.@frobnicate[0]: warning: unknown section type 'frobnicate' is ignored\nwanlb.wan.colour: warning: unknown option is ignored"
	if got := lines(ps); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
}

func TestListsAcceptOptionForm(t *testing.T) {
	c, ps := parse(t, "config wan 'wan'\n\toption detection 'manual'\n\toption track '198.18.100.1 198.18.100.2'\n")
	if c == nil || len(c.WANs[0].Track) != 2 {
		t.Fatalf("%v %s", c, lines(ps))
	}
}

func TestLoadFromDir(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Load(dir); err == nil {
		t.Fatal("missing file loaded")
	}
	if err := os.WriteFile(filepath.Join(dir, "wanlb"), []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	c, ps, err := Load(dir)
	if err != nil || c == nil {
		t.Fatalf("%v %s", err, lines(ps))
	}
	if err := os.WriteFile(filepath.Join(dir, "wanlb"), []byte("config wan 'wan\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "line") {
		t.Fatalf("syntax error not reported with its line: %v", err)
	}
}

func TestSchedule(t *testing.T) {
	night := Schedule{Start: 22 * 60, Stop: 6 * 60}
	night.Days[time.Friday] = true
	fri := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		at   time.Duration
		want bool
	}{
		{21*time.Hour + 59*time.Minute, false},
		{22 * time.Hour, true},
		{23*time.Hour + 59*time.Minute, true},
		{24 * time.Hour, true},                // Saturday 00:00
		{29*time.Hour + 59*time.Minute, true}, // Saturday 05:59
		{30 * time.Hour, false},               // Saturday 06:00
		{2 * time.Hour, false},                // Friday 02:00: Thursday not listed
		{46 * time.Hour, false},               // Saturday 22:00
		{7*24*time.Hour + 22*time.Hour, true}, // next Friday
	}
	for _, tt := range tests {
		if got := night.Contains(fri.Add(tt.at)); got != tt.want {
			t.Errorf("%s: %v, want %v", fri.Add(tt.at).Format("Mon 15:04"), got, tt.want)
		}
	}
	day := Schedule{Start: 9 * 60, Stop: 17 * 60}
	if !day.Contains(fri.Add(9*time.Hour)) || day.Contains(fri.Add(17*time.Hour)) {
		t.Error("day window wrong")
	}
	next, ok := night.NextChange(fri.Add(12 * time.Hour))
	if !ok || !next.Equal(fri.Add(22*time.Hour)) {
		t.Errorf("next change %v %v", next, ok)
	}
	if _, ok := (Schedule{Stop: allDay}).NextChange(fri); ok {
		t.Error("an all-day schedule never changes")
	}
}

// FuzzLoad: any UCI text either fails to parse, or validates into problems
// and a nil config, or into a config whose every WAN passed the checks the
// data plane relies on. Nothing panics.
func FuzzLoad(f *testing.F) {
	f.Add(full)
	f.Add("config wan 'wan'\n\toption device 'eth0'\n\toption gateway '198.18.11.1'\n")
	f.Add("config rule\n\tlist src_ip '198.18.0.1-198.18.0.9'\n\toption dest_port '1-65535'\n")
	f.Add("config globals 'globals'\n\toption mark_mask '0xff'\n")
	f.Fuzz(func(t *testing.T, text string) {
		file, err := uciconf.Parse(strings.NewReader(text))
		if err != nil {
			return
		}
		c, ps := FromUCI(file)
		if c == nil {
			if len(Errors(ps)) == 0 {
				t.Fatal("nil config without an error")
			}
			return
		}
		for _, w := range c.WANs {
			if w.Device != "" && !ValidDevice(w.Device) {
				t.Fatalf("invalid device accepted: %q", w.Device)
			}
			if w.Weight < 1 || w.Weight > MaxWeight {
				t.Fatalf("weight %d accepted", w.Weight)
			}
		}
		for _, p := range ps {
			if strings.Contains(p.String(), "\n") && !strings.Contains(p.Value, "\n") {
				t.Fatalf("problem spans lines: %q", p)
			}
		}
	})
}
