package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wanlb/wanlb/internal/uciconf"
)

var listenRe = regexp.MustCompile(`^[A-Za-z0-9_]+:[0-9]+$`)

func (v *validator) ui(s *uciconf.Section) UI {
	r := v.section(s, "ui")
	defer r.finish()
	u := UI{
		Enabled:        r.boolean("enabled"),
		Auth:           r.oneOf("auth"),
		PasswordHash:   r.str("password_hash"),
		SessionTimeout: time.Duration(r.integer("session_timeout")) * time.Second,
		Metrics:        r.boolean("metrics"),
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
		u.Listen = strings.Fields(r.spec("listen").Default)
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
		Name:          s.Name,
		Enabled:       r.boolean("enabled"),
		Label:         r.str("label"),
		Device:        r.str("device"),
		Weight:        r.integer("weight"),
		Upstream:      r.integer("upstream"),
		Downstream:    r.integer("downstream"),
		Detection:     Detection(r.oneOf("detection")),
		Reliability:   r.integer("reliability"),
		Interval:      r.seconds("interval"),
		Timeout:       r.seconds("timeout"),
		Down:          r.integer("down"),
		Up:            r.integer("up"),
		MaxLatency:    time.Duration(r.integer("max_latency")) * time.Millisecond,
		MaxLoss:       r.integer("max_loss"),
		Passive:       r.boolean("passive"),
		PassiveWindow: r.seconds("passive_window"),
	}
	if !r.isSet("timeout") {
		w.Timeout = DefaultTimeout(w.Interval)
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
			r.fail("gateway", g, "must be an IPv4 address (the IPv6 next hop is gateway6)")
		default:
			w.Gateway = a
		}
	}
	w.ipv6(r)
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
		Enabled:    r.boolean("enabled"),
		Name:       r.str("name"),
		Primary:    r.wanList("primary", wans),
		Backup:     r.wanList("backup", wans),
		Mode:       BackupMode(r.oneOf("mode")),
		TriggerAll: r.oneOf("trigger") == "all",
		Revert:     r.boolean("revert"),
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
		Enabled:  r.boolean("enabled"),
		Name:     r.str("name"),
		Proto:    Proto(r.oneOf("proto")),
		WANs:     r.wanList("wan", wans),
		Fallback: r.boolean("fallback"),
	}
	ru.SrcIP = r.addrs("src_ip")
	ru.DestIP = r.addrs("dest_ip")
	if f4, f6 := families(ru.SrcIP); f4 && f6 {
		r.fail("src_ip", strings.Join(r.list("src_ip"), " "), "mixes IPv4 and IPv6; use one rule per family")
	} else if d4, d6 := families(ru.DestIP); d4 && d6 {
		r.fail("dest_ip", strings.Join(r.list("dest_ip"), " "), "mixes IPv4 and IPv6; use one rule per family")
	} else if (f4 && d6) || (f6 && d4) {
		r.fail("dest_ip", strings.Join(r.list("dest_ip"), " "), "is of another IP family than src_ip, so the rule could never match")
	}
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
