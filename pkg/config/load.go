package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wanlb/wanlb/pkg/mark"
	"github.com/wanlb/wanlb/pkg/uciconf"
)

// FileName is the UCI config name, the file in the config directory.
const FileName = "wanlb"

// Problem is one thing wrong with the config. Warnings do not stop the
// config from being used; errors do.
type Problem struct {
	Section string // UCI section id: name or @type[i]; "" for the file
	Option  string
	Msg     string
	Value   string
	HasVal  bool
	Warning bool
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(FileName)
	if p.Section != "" {
		b.WriteString("." + p.Section)
	}
	if p.Option != "" {
		b.WriteString("." + p.Option)
	}
	b.WriteString(": ")
	if p.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Msg)
	if p.HasVal {
		fmt.Fprintf(&b, " (got '%s')", p.Value)
	}
	return b.String()
}

// Errors returns the problems that are not warnings.
func Errors(ps []Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Load reads <dir>/wanlb. The error is for a file that cannot be read or
// parsed; problems with values come back as Problems, and the Config is
// nil when any of them is an error.
func Load(dir string) (*Config, []Problem, error) {
	path := filepath.Join(dir, FileName)
	f, err := uciconf.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("no config: %w", err)
		}
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	c, ps := FromUCI(f)
	return c, ps, nil
}

// Limits of the schema, shared with the web UI's client-side checks.
const (
	MaxWeight    = 100
	MaxBandwidth = 9999999 // kbit/s, Omada's limit
	MinInterval  = 200 * time.Millisecond
	MaxInterval  = time.Hour
	MaxTimeout   = time.Minute
	MaxRounds    = 100
	MaxLatencyMs = 60000
)

var (
	// ifnameRe is stricter than Linux (which allows almost any byte):
	// device names end up in iptables rules, so only what OpenWrt uses.
	ifnameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$`)
	hostRe   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)
)

// ValidDevice reports whether s is a network device name wanlb accepts.
func ValidDevice(s string) bool { return ifnameRe.MatchString(s) }

// FromUCI validates a parsed file and builds the Config.
func FromUCI(f *uciconf.File) (*Config, []Problem) {
	v := &validator{file: f}
	c := &Config{}
	var globals, ui *uciconf.Section
	for _, s := range f.Sections {
		switch s.Type {
		case "globals":
			if globals != nil {
				v.sectionWarn(s, "more than one globals section; the first one is used")
				continue
			}
			globals = s
		case "ui":
			if ui != nil {
				v.sectionWarn(s, "more than one ui section; the first one is used")
				continue
			}
			ui = s
		case "wan", "link_backup", "rule":
		default:
			v.sectionWarn(s, fmt.Sprintf("unknown section type '%s' is ignored", s.Type))
		}
	}
	c.Globals = v.globals(globals)
	c.UI = v.ui(ui)
	for _, s := range f.OfType("wan") {
		if w, ok := v.wan(s); ok {
			c.WANs = append(c.WANs, w)
		}
	}
	names := map[string]bool{}
	for _, w := range c.WANs {
		names[w.Name] = true
	}
	for _, s := range f.OfType("link_backup") {
		c.LinkBackups = append(c.LinkBackups, v.linkBackup(s, names))
	}
	for _, s := range f.OfType("rule") {
		c.Rules = append(c.Rules, v.rule(s, names))
	}
	v.crossChecks(c)
	if len(Errors(v.problems)) > 0 {
		return nil, v.problems
	}
	return c, v.problems
}

type validator struct {
	file     *uciconf.File
	problems []Problem
}

func (v *validator) sectionWarn(s *uciconf.Section, msg string) {
	v.problems = append(v.problems, Problem{Section: v.file.ID(s), Msg: msg, Warning: true})
}

// section reads one UCI section's options, remembering which it used so
// the rest can be reported as unknown.
type section struct {
	v    *validator
	s    *uciconf.Section // nil: the section is absent, defaults apply
	id   string
	used map[string]bool
}

func (v *validator) section(s *uciconf.Section, id string) *section {
	if s != nil {
		id = v.file.ID(s)
	}
	return &section{v: v, s: s, id: id, used: map[string]bool{}}
}

func (r *section) fail(opt, val, msg string) {
	r.v.problems = append(r.v.problems, Problem{Section: r.id, Option: opt, Msg: msg, Value: val, HasVal: true})
}

func (r *section) failNoValue(opt, msg string) {
	r.v.problems = append(r.v.problems, Problem{Section: r.id, Option: opt, Msg: msg})
}

func (r *section) warn(opt, val, msg string) {
	r.v.problems = append(r.v.problems, Problem{Section: r.id, Option: opt, Msg: msg, Value: val, HasVal: true, Warning: true})
}

// value returns a single-valued option.
func (r *section) value(name string) (string, bool) {
	r.used[name] = true
	if r.s == nil {
		return "", false
	}
	o, ok := r.s.Get(name)
	if !ok || len(o.Values) == 0 {
		return "", false
	}
	if len(o.Values) > 1 {
		r.fail(name, strings.Join(o.Values, " "), "takes one value, not a list")
		return "", false
	}
	return o.Values[0], true
}

// list returns a list option. The option form with values separated by
// spaces is accepted too, as OpenWrt's own packages do.
func (r *section) list(name string) []string {
	r.used[name] = true
	if r.s == nil {
		return nil
	}
	o, ok := r.s.Get(name)
	if !ok {
		return nil
	}
	var out []string
	for _, val := range o.Values {
		if o.List {
			if strings.TrimSpace(val) != "" {
				out = append(out, strings.TrimSpace(val))
			}
			continue
		}
		out = append(out, strings.Fields(val)...)
	}
	return out
}

func (r *section) str(name, def string) string {
	if s, ok := r.value(name); ok {
		return s
	}
	return def
}

// ParseBool reads the boolean spellings UCI users write.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "on", "true", "yes", "enabled":
		return true, true
	case "0", "off", "false", "no", "disabled":
		return false, true
	}
	return false, false
}

func (r *section) boolean(name string, def bool) bool {
	s, ok := r.value(name)
	if !ok {
		return def
	}
	b, ok := ParseBool(s)
	if !ok {
		r.fail(name, s, "must be a boolean: 0/1, on/off, true/false, yes/no")
		return def
	}
	return b
}

func (r *section) integer(name string, def, min, max int) int {
	s, ok := r.value(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		r.fail(name, s, "must be a whole number")
		return def
	}
	if n < min || n > max {
		r.fail(name, s, fmt.Sprintf("must be between %d and %d", min, max))
		return def
	}
	return n
}

// seconds reads a decimal number of seconds.
func (r *section) seconds(name string, def, min, max time.Duration) time.Duration {
	s, ok := r.value(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		r.fail(name, s, "must be a number of seconds")
		return def
	}
	d := time.Duration(f * float64(time.Second))
	if d < min || d > max {
		r.fail(name, s, fmt.Sprintf("must be between %g and %g seconds", min.Seconds(), max.Seconds()))
		return def
	}
	return d
}

func (r *section) oneOf(name, def string, allowed ...string) string {
	s, ok := r.value(name)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	r.fail(name, s, "must be one of: "+strings.Join(allowed, ", "))
	return def
}

// finish warns about options the schema does not know (a typo must not
// go unnoticed, but must not stop the router either).
func (r *section) finish() {
	if r.s == nil {
		return
	}
	for _, o := range r.s.Options {
		if !r.used[o.Name] {
			r.v.problems = append(r.v.problems, Problem{Section: r.id, Option: o.Name, Msg: "unknown option is ignored", Warning: true})
		}
	}
}

func (v *validator) globals(s *uciconf.Section) Globals {
	r := v.section(s, "globals")
	defer r.finish()
	g := Globals{
		Enabled:        r.boolean("enabled", true),
		LoadBalancing:  r.boolean("load_balancing", true),
		AppOptimized:   r.boolean("app_optimized", false),
		BandwidthBased: r.boolean("bandwidth_based", false),
		LastResort:     LastResort(r.oneOf("last_resort", "default", "default", "unreachable", "blackhole")),
		FlushConntrack: r.boolean("flush_conntrack", true),
		MarkMask:       mark.Default,
		Backend:        r.oneOf("backend", "auto", "auto", "nftables", "iptables"),
		Hook:           r.str("hook", "/etc/wanlb.user"),
		LogLevel:       r.oneOf("log_level", "info", "debug", "info", "warn", "error"),
	}
	if m, ok := r.value("mark_mask"); ok {
		if mask, err := mark.Parse(m); err != nil {
			r.fail("mark_mask", m, err.Error())
		} else {
			g.MarkMask = mask
		}
	}
	if g.Hook != "" && !filepath.IsAbs(g.Hook) {
		r.fail("hook", g.Hook, "must be an absolute path")
	}
	return g
}

var listenRe = regexp.MustCompile(`^[A-Za-z0-9_]+:[0-9]+$`)

func (v *validator) ui(s *uciconf.Section) UI {
	r := v.section(s, "ui")
	defer r.finish()
	u := UI{
		Enabled:        r.boolean("enabled", true),
		Auth:           r.oneOf("auth", "system", "system", "password"),
		PasswordHash:   r.str("password_hash", ""),
		SessionTimeout: time.Duration(r.integer("session_timeout", 3600, 60, 7*24*3600)) * time.Second,
		Metrics:        r.boolean("metrics", false),
	}
	u.Cert, u.Key = r.certFiles()
	allow := r.list("metrics_allow")
	for _, a := range allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			if ip, err2 := netip.ParseAddr(a); err2 == nil {
				p, err = netip.PrefixFrom(ip, ip.BitLen()), nil
			}
		}
		if err != nil {
			r.fail("metrics_allow", a, "must be an IP address or CIDR")
			continue
		}
		u.MetricsAllow = append(u.MetricsAllow, p.Masked())
	}
	if u.Metrics && len(allow) == 0 {
		r.failNoValue("metrics_allow", "must list who may read /metrics when metrics is on (e.g. '127.0.0.1' or '198.18.1.0/24')")
	}
	u.Listen = r.list("listen")
	if len(u.Listen) == 0 {
		u.Listen = []string{"lan:8088"}
	}
	for _, l := range u.Listen {
		if err := checkListen(l); err != nil {
			r.fail("listen", l, err.Error())
		}
	}
	if u.Auth == "password" && u.PasswordHash == "" {
		r.failNoValue("password_hash", "must be set when auth is 'password' (use 'wanlb passwd')")
	}
	if u.PasswordHash != "" && !strings.HasPrefix(u.PasswordHash, "$6$") && !strings.HasPrefix(u.PasswordHash, "$2") {
		r.fail("password_hash", u.PasswordHash, "must be a sha512-crypt ($6$) or bcrypt ($2b$) hash")
	}
	return u
}

func checkListen(l string) error {
	if ap, err := netip.ParseAddrPort(l); err == nil {
		if ap.Port() == 0 {
			return fmt.Errorf("port must be 1-65535")
		}
		return nil
	}
	if !listenRe.MatchString(l) {
		return fmt.Errorf("must be <interface>:<port> or <ip>:<port>")
	}
	port, err := strconv.Atoi(l[strings.LastIndexByte(l, ':')+1:])
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("port must be 1-65535")
	}
	return nil
}

func (v *validator) wan(s *uciconf.Section) (WAN, bool) {
	r := v.section(s, "")
	defer r.finish()
	if s.Name == "" {
		r.failNoValue("", "a wan section must be named after its netifd interface (config wan 'wan2')")
		return WAN{}, false
	}
	w := WAN{
		Name:        s.Name,
		Enabled:     r.boolean("enabled", true),
		Label:       r.str("label", ""),
		Device:      r.str("device", ""),
		Weight:      r.integer("weight", 1, 1, MaxWeight),
		Upstream:    r.integer("upstream", 0, 0, MaxBandwidth),
		Downstream:  r.integer("downstream", 0, 0, MaxBandwidth),
		Detection:   Detection(r.oneOf("detection", "auto", "auto", "manual", "always_online")),
		Reliability: r.integer("reliability", 1, 1, 100),
		Interval:    r.seconds("interval", time.Second, MinInterval, MaxInterval),
		Timeout:     r.seconds("timeout", time.Second, 100*time.Millisecond, MaxTimeout),
		Down:        r.integer("down", 3, 1, MaxRounds),
		Up:          r.integer("up", 3, 1, MaxRounds),
		MaxLatency:  time.Duration(r.integer("max_latency", 0, 0, MaxLatencyMs)) * time.Millisecond,
		MaxLoss:     r.integer("max_loss", 0, 0, 100),
	}
	if len(s.Name) > 32 {
		r.fail("", s.Name, "section name is longer than 32 characters")
	}
	if w.Device != "" && !ValidDevice(w.Device) {
		r.fail("device", w.Device, "must be a network device name (letters, digits, '_', '.', '-', at most 15)")
	}
	if g, ok := r.value("gateway"); ok && g != "" {
		a, err := netip.ParseAddr(g)
		switch {
		case err != nil || a.Zone() != "":
			r.fail("gateway", g, "must be an IP address")
		case !a.Is4():
			r.fail("gateway", g, "IPv6 gateways are not supported yet; use an IPv4 address")
		default:
			w.Gateway = a
		}
	}
	for _, t := range r.list("track") {
		tg, err := ParseTarget(t)
		if err != nil {
			r.fail("track", t, err.Error())
			continue
		}
		w.Track = append(w.Track, tg)
	}
	if w.Detection == DetectManual {
		if len(w.Track) == 0 {
			r.failNoValue("track", "detection 'manual' needs at least one track target")
		} else if w.Reliability > len(w.Track) {
			r.fail("reliability", strconv.Itoa(w.Reliability), fmt.Sprintf("is more than the %d track targets", len(w.Track)))
		}
	}
	return w, true
}

// ParseTarget reads one track target: IP | dns://SERVER[/NAME] |
// http://URL | https://URL | tcp://HOST:PORT.
func ParseTarget(s string) (Target, error) {
	t := Target{Raw: s}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return t, fmt.Errorf("must not carry a zone")
		}
		t.Kind, t.Addr = TargetICMP, a
		return t, nil
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return t, fmt.Errorf("must be an IP address or dns://, http://, https://, tcp:// target")
	}
	switch scheme {
	case "dns":
		server, name, _ := strings.Cut(rest, "/")
		t.Kind, t.Port, t.Host = TargetDNS, 53, name
		if ap, err := netip.ParseAddrPort(server); err == nil {
			t.Addr, t.Port = ap.Addr(), int(ap.Port())
		} else if a, err := netip.ParseAddr(server); err == nil {
			t.Addr = a
		} else {
			return t, fmt.Errorf("dns target needs a server IP address: dns://SERVER[/NAME]")
		}
		if name != "" && !hostRe.MatchString(name) {
			return t, fmt.Errorf("dns query name is not a host name")
		}
	case "http", "https":
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.User != nil {
			return t, fmt.Errorf("must be a URL like %s://host/path", scheme)
		}
		t.Kind, t.URL, t.Host = TargetKind(scheme), s, u.Hostname()
	case "tcp":
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			return t, fmt.Errorf("must be tcp://HOST:PORT")
		}
		host := strings.TrimSuffix(strings.TrimPrefix(rest[:i], "["), "]")
		p, err := strconv.Atoi(rest[i+1:])
		if err != nil || p < 1 || p > 65535 {
			return t, fmt.Errorf("must be tcp://HOST:PORT")
		}
		if _, err := netip.ParseAddr(host); err != nil && !hostRe.MatchString(host) {
			return t, fmt.Errorf("tcp target host is neither an IP address nor a host name")
		}
		t.Kind, t.Host, t.Port = TargetTCP, host, p
	default:
		return t, fmt.Errorf("unknown target type %q (IP, dns://, http://, https://, tcp://)", scheme)
	}
	return t, nil
}

func (r *section) wanList(name string, wans map[string]bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range r.list(name) {
		switch {
		case !wans[n]:
			r.fail(name, n, "is not a wan section")
		case seen[n]:
			r.fail(name, n, "is listed twice")
		default:
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func (v *validator) linkBackup(s *uciconf.Section, wans map[string]bool) LinkBackup {
	r := v.section(s, "")
	defer r.finish()
	b := LinkBackup{
		ID:         r.id,
		Enabled:    r.boolean("enabled", true),
		Name:       r.str("name", ""),
		Primary:    r.wanList("primary", wans),
		Backup:     r.wanList("backup", wans),
		Mode:       BackupMode(r.oneOf("mode", "failover", "failover", "timing")),
		TriggerAll: r.oneOf("trigger", "any", "any", "all") == "all",
		Revert:     r.boolean("revert", true),
	}
	if len(b.Primary) == 0 {
		r.failNoValue("primary", "needs at least one primary WAN")
	}
	if len(b.Backup) == 0 {
		r.failNoValue("backup", "needs at least one backup WAN")
	}
	for _, p := range b.Primary {
		for _, q := range b.Backup {
			if p == q {
				r.fail("backup", q, "is also a primary WAN of this entry")
			}
		}
	}
	b.Schedule = Schedule{Start: 0, Stop: allDay}
	if d, ok := r.value("weekdays"); ok {
		days, err := parseWeekdays(d)
		if err != nil {
			r.fail("weekdays", d, err.Error())
		}
		b.Schedule.Days = days
	}
	start, hasStart := r.value("start_time")
	stop, hasStop := r.value("stop_time")
	if hasStart {
		m, err := parseClock(start)
		if err != nil || m == allDay {
			r.fail("start_time", start, "must be HH:MM between 00:00 and 23:59")
		}
		b.Schedule.Start = m
	}
	if hasStop {
		m, err := parseClock(stop)
		if err != nil {
			r.fail("stop_time", stop, err.Error())
		}
		b.Schedule.Stop = m
	}
	if hasStart && hasStop && b.Schedule.Start == b.Schedule.Stop {
		r.fail("stop_time", stop, "equals start_time; leave both empty for all day")
	}
	return b
}

func (v *validator) rule(s *uciconf.Section, wans map[string]bool) Rule {
	r := v.section(s, "")
	defer r.finish()
	ru := Rule{
		ID:       r.id,
		Enabled:  r.boolean("enabled", true),
		Name:     r.str("name", ""),
		Proto:    Proto(r.oneOf("proto", "all", "all", "tcp", "udp", "icmp", "tcpudp")),
		WANs:     r.wanList("wan", wans),
		Fallback: r.boolean("fallback", true),
	}
	ru.SrcIP = r.addrs("src_ip")
	ru.DestIP = r.addrs("dest_ip")
	ru.SrcPort = r.ports("src_port")
	ru.DestPort = r.ports("dest_port")
	if len(ru.SrcPort)+len(ru.DestPort) > 0 && ru.Proto != ProtoTCP && ru.Proto != ProtoUDP && ru.Proto != ProtoTCPUDP {
		r.fail("proto", string(ru.Proto), "ports need proto tcp, udp or tcpudp")
	}
	if len(ru.WANs) == 0 {
		r.failNoValue("wan", "needs at least one WAN")
	}
	return ru
}

func (r *section) addrs(name string) []AddrMatch {
	var out []AddrMatch
	for _, s := range r.list(name) {
		m, err := ParseAddrMatch(s)
		if err != nil {
			r.fail(name, s, err.Error())
			continue
		}
		out = append(out, m)
	}
	return out
}

// ParseAddrMatch reads an IPv4 address, CIDR or a-b range.
func ParseAddrMatch(s string) (AddrMatch, error) {
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(from)
		b, err2 := netip.ParseAddr(to)
		if err1 != nil || err2 != nil || !a.Is4() || !b.Is4() {
			return AddrMatch{}, fmt.Errorf("must be an IPv4 range like 198.18.0.10-198.18.0.20")
		}
		if b.Less(a) {
			return AddrMatch{}, fmt.Errorf("range ends before it starts")
		}
		return AddrMatch{From: a, To: b}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return AddrMatch{}, fmt.Errorf("must be an IPv4 address, CIDR or range")
		}
		return AddrMatch{Prefix: p.Masked()}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return AddrMatch{}, fmt.Errorf("must be an IPv4 address, CIDR or range (IPv6 is not supported yet)")
	}
	return AddrMatch{Prefix: netip.PrefixFrom(a, 32)}, nil
}

func (r *section) ports(name string) []PortRange {
	s, ok := r.value(name)
	if !ok {
		return nil
	}
	var out []PortRange
	for _, f := range strings.Fields(strings.ReplaceAll(s, ",", " ")) {
		from, to, isRange := strings.Cut(f, "-")
		if !isRange {
			to = from
		}
		a, err1 := strconv.ParseUint(from, 10, 16)
		b, err2 := strconv.ParseUint(to, 10, 16)
		if err1 != nil || err2 != nil || a == 0 || b == 0 || b < a {
			r.fail(name, s, "must be ports 1-65535: '80', '80 443' or '10000-20000'")
			return nil
		}
		out = append(out, PortRange{uint16(a), uint16(b)})
	}
	return out
}

// crossChecks finds problems that span sections.
func (v *validator) crossChecks(c *Config) {
	if c.Globals.BandwidthBased {
		for _, w := range c.WANs {
			if w.Enabled && w.Downstream == 0 {
				v.problems = append(v.problems, Problem{Section: w.Name, Option: "downstream",
					Msg: "must be set when bandwidth_based is on (shares follow each WAN's downstream)", Value: "0", HasVal: true})
			}
		}
	}
	// Two values of the mask are reserved (blackhole, unreachable).
	if maxWANs := c.Globals.MarkMask.MaxWANs(); len(c.WANs) > maxWANs {
		v.problems = append(v.problems, Problem{Section: "globals", Option: "mark_mask",
			Msg:   fmt.Sprintf("has room for %d WANs, the config has %d", maxWANs, len(c.WANs)),
			Value: c.Globals.MarkMask.String(), HasVal: true})
	}
	devices := map[string]string{}
	for _, w := range c.WANs {
		if w.Device == "" || !w.Enabled {
			continue
		}
		if other, ok := devices[w.Device]; ok {
			v.problems = append(v.problems, Problem{Section: w.Name, Option: "device",
				Msg: "is also the device of wan '" + other + "'", Value: w.Device, HasVal: true})
		}
		devices[w.Device] = w.Name
	}
}
