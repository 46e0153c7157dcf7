package config

import (
	"net/netip"
	"testing"
)

// A wan section covers both families: its IPv6 side defaults to netifd's
// '<section>6' interface and takes IPv6 gateways (link-local too),
// devices and probe targets.
func TestIPv6Options(t *testing.T) {
	c, ps := parse(t, `config globals 'globals'
	option ipv6_mode 'routed'
config wan 'wan'
	option gateway6 'fe80::1'
	option device6 'pppoe-wan'
	list track '2001:db8::1'
	list track 'dns://[2001:db8::53]/example.org'
	list track 'dns://[2001:db8::53]:5353'
	list track 'http://[2001:db8::1]:8080/'
	list track 'tcp://[2001:db8::1]:80'
config wan 'wanb'
	option ipv6 'off'
config wan 'wanc'
	option interface6 'lte_6'
	option ipv6 'on'
`)
	if len(Errors(ps)) > 0 || c == nil {
		t.Fatalf("problems: %s", lines(ps))
	}
	if c.Globals.IPv6Mode != IPv6Routed {
		t.Errorf("ipv6_mode = %q", c.Globals.IPv6Mode)
	}
	w := c.WANs[0]
	if !w.IPv6 || w.IPv6Translated || w.Interface6 != "wan6" || w.Device6 != "pppoe-wan" || w.Gateway6 != netip.MustParseAddr("fe80::1") {
		t.Errorf("wan: %+v", w)
	}
	if wc := c.WANs[2]; !wc.IPv6 || !wc.IPv6Translated {
		t.Errorf("ipv6 'on': %+v", wc)
	}
	want := []struct {
		kind TargetKind
		addr string
		port int
	}{{TargetICMP, "2001:db8::1", 0}, {TargetDNS, "2001:db8::53", 53}, {TargetDNS, "2001:db8::53", 5353}, {TargetHTTP, "", 0}, {TargetTCP, "", 80}}
	for i, tg := range w.Track {
		if tg.Kind != want[i].kind || (want[i].addr != "" && tg.Addr.String() != want[i].addr) || tg.Port != want[i].port {
			t.Errorf("track %d = %+v, want %+v", i, tg, want[i])
		}
	}
	if w.Track[3].Host != "2001:db8::1" || w.Track[4].Host != "2001:db8::1" {
		t.Errorf("http/tcp hosts: %q %q", w.Track[3].Host, w.Track[4].Host)
	}
	if c.WANs[1].IPv6 || c.WANs[1].Interface6 != "wanb6" {
		t.Errorf("wanb: %+v", c.WANs[1])
	}
	if c.WANs[2].Interface6 != "lte_6" || !c.WANs[2].IPv6 {
		t.Errorf("wanc: %+v", c.WANs[2])
	}
	d, _ := parse(t, "config wan 'wan'\n")
	if d.Globals.IPv6Mode != IPv6Translated || !d.WANs[0].IPv6 || d.WANs[0].Gateway6.IsValid() {
		t.Errorf("defaults: %+v %+v", d.Globals, d.WANs[0])
	}
}

// Policy rules take IPv6 addresses, prefixes and ranges, and a rule's
// addresses say which family it applies to.
func TestIPv6Rules(t *testing.T) {
	c, ps := parse(t, `config wan 'wan'
config rule 'v6'
	list wan 'wan'
	list src_ip 'fd00:1::10'
	list src_ip 'fd00:2::/64'
	list src_ip 'fd00:3::1-fd00:3::9'
	list dest_ip '2001:db8::/32'
config rule 'v4'
	list wan 'wan'
	list dest_ip '198.18.0.0/15'
config rule 'both'
	list wan 'wan'
	option proto 'tcp'
	option dest_port '443'
`)
	if c == nil {
		t.Fatalf("problems: %s", lines(ps))
	}
	r := c.Rules[0]
	if r.Family() != 6 || r.SrcIP[0].String() != "fd00:1::10" || r.SrcIP[1].String() != "fd00:2::/64" ||
		!r.SrcIP[2].IsRange() || r.SrcIP[2].String() != "fd00:3::1-fd00:3::9" || r.DestIP[0].String() != "2001:db8::/32" {
		t.Errorf("v6 rule: %+v (family %d)", r, r.Family())
	}
	if c.Rules[1].Family() != 4 || c.Rules[2].Family() != 0 {
		t.Errorf("families: %d %d", c.Rules[1].Family(), c.Rules[2].Family())
	}
}

func TestIPv6Problems(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"ipv6 value", "config wan 'wan'\n\toption ipv6 'yes'\n", "wanlb.wan.ipv6: must be one of: auto, on, off (got 'yes')"},
		{"ipv6_mode", "config globals 'globals'\n\toption ipv6_mode 'nat'\n", "wanlb.globals.ipv6_mode: must be one of: translated, routed (got 'nat')"},
		{"gateway6 not an address", "config wan 'wan'\n\toption gateway6 'fe80::g'\n", "wanlb.wan.gateway6: must be an IPv6 address (got 'fe80::g')"},
		{"gateway6 is IPv4", "config wan 'wan'\n\toption gateway6 '198.18.0.1'\n", "wanlb.wan.gateway6: must be an IPv6 address (the IPv4 next hop is gateway) (got '198.18.0.1')"},
		{"gateway6 zone", "config wan 'wan'\n\toption gateway6 'fe80::1%eth1'\n", "wanlb.wan.gateway6: must not carry a zone; set device6 for a link-local gateway (got 'fe80::1%eth1')"},
		{"gateway6 multicast", "config wan 'wan'\n\toption gateway6 'ff02::2'\n", "wanlb.wan.gateway6: must be a unicast address (got 'ff02::2')"},
		{"device6", "config wan 'wan'\n\toption device6 'eth1;reboot'\n", "wanlb.wan.device6: must be a network device name (letters, digits, '_', '.', '-', at most 15) (got 'eth1;reboot')"},
		{"interface6", "config wan 'wan'\n\toption interface6 'wan-6'\n", "wanlb.wan.interface6: must be a netifd interface name (letters, digits and '_') (got 'wan-6')"},
		{"dns target zone", "config wan 'wan'\n\tlist track 'dns://[fe80::1%eth0]/x'\n", "wanlb.wan.track: dns target needs a server IP address: dns://SERVER[/NAME] (got 'dns://[fe80::1%eth0]/x')"},
		{"mixed src", "config wan 'wan'\nconfig rule\n\tlist wan 'wan'\n\tlist src_ip '198.18.0.1'\n\tlist src_ip 'fd00::1'\n",
			"wanlb.@rule[0].src_ip: mixes IPv4 and IPv6; use one rule per family (got '198.18.0.1 fd00::1')"},
		{"mixed dest", "config wan 'wan'\nconfig rule\n\tlist wan 'wan'\n\tlist dest_ip '2001:db8::/32'\n\tlist dest_ip '198.18.0.0/15'\n",
			"wanlb.@rule[0].dest_ip: mixes IPv4 and IPv6; use one rule per family (got '2001:db8::/32 198.18.0.0/15')"},
		{"src and dest of two families", "config wan 'wan'\nconfig rule\n\tlist wan 'wan'\n\tlist src_ip '198.18.0.1'\n\tlist dest_ip '2001:db8::1'\n",
			"wanlb.@rule[0].dest_ip: is of another IP family than src_ip, so the rule could never match (got '2001:db8::1')"},
		{"mixed range", "config wan 'wan'\nconfig rule\n\tlist wan 'wan'\n\tlist src_ip '198.18.0.1-fd00::1'\n",
			"wanlb.@rule[0].src_ip: range mixes IPv4 and IPv6 (got '198.18.0.1-fd00::1')"},
		{"v6 range backwards", "config wan 'wan'\nconfig rule\n\tlist wan 'wan'\n\tlist src_ip 'fd00::9-fd00::1'\n",
			"wanlb.@rule[0].src_ip: range ends before it starts (got 'fd00::9-fd00::1')"},
		{"v6 bad prefix", "config wan 'wan'\nconfig rule\n\tlist wan 'wan'\n\tlist dest_ip '2001:db8::/129'\n",
			"wanlb.@rule[0].dest_ip: must be an IPv4 or IPv6 address, CIDR or range (got '2001:db8::/129')"},
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

func TestTargetIs6(t *testing.T) {
	for s, want := range map[string]bool{
		"198.18.0.1": false, "2001:db8::1": true, "dns://198.18.0.53": false, "dns://[2001:db8::53]/x": true,
		"tcp://[2001:db8::1]:80": true, "tcp://198.18.0.1:80": false, "tcp://example.org:80": false,
		"http://[2001:db8::1]:8080/": true, "https://example.org/": false, "http://198.18.0.1/": false,
	} {
		tg, err := ParseTarget(s)
		if err != nil {
			t.Fatal(err)
		}
		if tg.Is6() != want {
			t.Errorf("%s: Is6 %v", s, !want)
		}
	}
}
