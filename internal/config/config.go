// Package config turns a parsed UCI file into wanlb's typed configuration:
// every section and option of the UCI schema (README, Configuration reference), with
// defaults, and validation that reports every problem at once in the form
// "wanlb.<section>.<option>: <problem> (got '<value>')".
//
// A Config that Load returns without errors is safe to render into kernel
// state: names, devices and addresses have been checked against strict
// patterns, so no config text can inject rules.
package config

import (
	"net/netip"
	"time"

	"github.com/wanlb/wanlb/internal/mark"
)

// Config is the whole of /etc/config/wanlb.
type Config struct {
	Globals     Globals
	UI          UI
	WANs        []WAN // in file order; order matters for load_balancing 0
	LinkBackups []LinkBackup
	Rules       []Rule // in file order; first match wins
}

// LastResort says where new connections go when no WAN can carry them.
type LastResort string

// The last_resort values.
const (
	LastResortDefault     LastResort = "default"     // the main routing table
	LastResortUnreachable LastResort = "unreachable" // fail fast with ICMP unreachable
	LastResortBlackhole   LastResort = "blackhole"   // drop silently
)

// Globals is the 'globals' section.
type Globals struct {
	Enabled        bool
	LoadBalancing  bool
	AppOptimized   bool
	BandwidthBased bool
	LastResort     LastResort
	FlushConntrack bool
	MarkMask       mark.Mask
	Backend        string // firewall backend: auto | nftables | iptables
	IPv6Mode       IPv6Mode
	Hook           string
	LogLevel       string
}

// UI is the 'ui' section.
type UI struct {
	Enabled        bool
	Listen         []string
	Auth           string
	PasswordHash   string
	SessionTimeout time.Duration
	// Metrics serves GET /metrics (Prometheus text format) without a
	// session, to MetricsAllow only.
	Metrics      bool
	MetricsAllow []netip.Prefix
	// Cert and Key: the UI serves HTTPS only, with them, when both exist.
	Cert, Key string
}

// IPv6Mode is how IPv6 reaches the WANs (globals.ipv6_mode).
type IPv6Mode string

// The ipv6_mode values.
const (
	// IPv6Translated: the firewall masquerades (fw4 masq6) or NPTv6-maps
	// IPv6 on every WAN, so any connection may leave by any WAN and IPv6 is
	// balanced and fails over like IPv4.
	IPv6Translated IPv6Mode = "translated"
	// IPv6Routed: each ISP's delegated prefix is routed without
	// translation; a connection must leave by the WAN of its source prefix.
	IPv6Routed IPv6Mode = "routed"
)

// Detection is the Online Detection mode of a WAN.
type Detection string

// The detection values.
const (
	DetectAuto         Detection = "auto"
	DetectManual       Detection = "manual"
	DetectAlwaysOnline Detection = "always_online"
)

// WAN is a 'wan' section; its name is the netifd logical interface.
type WAN struct {
	Name        string
	Enabled     bool
	Label       string
	Device      string     // "" = ask netifd
	Gateway     netip.Addr // invalid = ask netifd, or point-to-point
	Weight      int
	Upstream    int // kbit/s
	Downstream  int // kbit/s
	Detection   Detection
	Track       []Target
	Reliability int
	Interval    time.Duration
	Timeout     time.Duration
	Down        int
	Up          int
	MaxLatency  time.Duration
	MaxLoss     int // percent
	// IPv6 is false with `option ipv6 'off'`: the WAN's IPv6 side is
	// neither balanced nor routed by wanlb.
	IPv6 bool
	// IPv6Translated is true with `option ipv6 'on'`: the admin says the
	// IPv6 side is translated (NPTv6, or a masquerade wanlb cannot see),
	// so ipv6_mode 'translated' balances it without finding masq6 in the
	// firewall config.
	IPv6Translated bool
	Interface6     string     // netifd interface of the IPv6 side; default <Name>6
	Device6        string     // "" = ask netifd, else the IPv4 device
	Gateway6       netip.Addr // invalid = ask netifd; often link-local
	// Passive: watch the WAN's own traffic; PassiveWindow is how long it
	// may send with nothing coming back before a probe burst checks it.
	Passive       bool
	PassiveWindow time.Duration
}

// DisplayName is the label shown to people.
func (w *WAN) DisplayName() string {
	if w.Label != "" {
		return w.Label
	}
	return w.Name
}

// TargetKind is the probe type of a track target.
type TargetKind string

// The probe types.
const (
	TargetICMP  TargetKind = "icmp"
	TargetDNS   TargetKind = "dns"
	TargetHTTP  TargetKind = "http"
	TargetHTTPS TargetKind = "https"
	TargetTCP   TargetKind = "tcp"
)

// Target is one probe target of a WAN.
type Target struct {
	Kind TargetKind
	Raw  string     // as written in the config
	Addr netip.Addr // icmp target, or dns server
	Host string     // tcp host, dns query name
	Port int        // tcp port, dns port
	URL  string     // http(s)
}

// BackupMode is how a link backup entry engages its backups.
type BackupMode string

// The link backup modes.
const (
	ModeFailover BackupMode = "failover"
	ModeTiming   BackupMode = "timing"
)

// LinkBackup is a 'link_backup' section (Omada's Link Backup entry).
type LinkBackup struct {
	ID         string // UCI section id: name or @link_backup[i]
	Enabled    bool
	Name       string
	Primary    []string
	Backup     []string
	Mode       BackupMode
	TriggerAll bool // trigger 'all': every primary must be offline
	Revert     bool
	Schedule   Schedule
}

// Proto is a policy rule's protocol match.
type Proto string

// The protocols a rule can match.
const (
	ProtoAll    Proto = "all"
	ProtoTCP    Proto = "tcp"
	ProtoUDP    Proto = "udp"
	ProtoICMP   Proto = "icmp"
	ProtoTCPUDP Proto = "tcpudp"
)

// Rule is a 'rule' section (Omada's Policy Routing).
type Rule struct {
	ID       string
	Enabled  bool
	Name     string
	Proto    Proto
	SrcIP    []AddrMatch
	DestIP   []AddrMatch
	SrcPort  []PortRange
	DestPort []PortRange
	WANs     []string
	Fallback bool
}

// AddrMatch is an IPv4 or IPv6 address, prefix or inclusive range.
type AddrMatch struct {
	Prefix   netip.Prefix // valid for an address or CIDR
	From, To netip.Addr   // valid for a range
}

// Is6 reports whether the match is IPv6.
func (a AddrMatch) Is6() bool {
	if a.IsRange() {
		return a.From.Is6()
	}
	return a.Prefix.Addr().Is6()
}

// IsRange reports whether the match is an a-b range.
func (a AddrMatch) IsRange() bool { return a.From.IsValid() }

// String renders the match in iptables syntax.
func (a AddrMatch) String() string {
	if a.IsRange() {
		return a.From.String() + "-" + a.To.String()
	}
	if a.Prefix.IsSingleIP() {
		return a.Prefix.Addr().String()
	}
	return a.Prefix.String()
}

// Family is the IP family a rule's addresses limit it to: 4, 6, or 0 when
// it has no addresses and applies to both. Validation refuses rules whose
// addresses mix families.
func (r *Rule) Family() int {
	for _, a := range append(append([]AddrMatch(nil), r.SrcIP...), r.DestIP...) {
		if a.Is6() {
			return 6
		}
		return 4
	}
	return 0
}

// PortRange is an inclusive port range; From == To for a single port.
type PortRange struct{ From, To uint16 }

// WAN returns the WAN section with the given name.
func (c *Config) WAN(name string) (*WAN, bool) {
	for i := range c.WANs {
		if c.WANs[i].Name == name {
			return &c.WANs[i], true
		}
	}
	return nil, false
}
