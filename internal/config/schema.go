package config

import (
	"fmt"
	"strconv"
	"time"
)

// Kind is the type of an option's value.
type Kind string

// The option kinds.
const (
	KindBool    Kind = "bool"
	KindInt     Kind = "int"     // a whole number between Min and Max
	KindSeconds Kind = "seconds" // a decimal number of seconds between Min and Max
	KindEnum    Kind = "enum"    // one of Values
	KindString  Kind = "string"
	KindList    Kind = "list" // a UCI list, or an option of space-separated items
)

// Option is one option of the schema: the single place its default and
// limits are declared. The validator reads options through it, and the
// web UI gets it from the API for its own checks.
type Option struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Default is the UCI text of the value a missing option has.
	Default string   `json:"default"`
	Min     float64  `json:"min"` // KindInt and KindSeconds
	Max     float64  `json:"max"`
	Unit    string   `json:"unit,omitempty"`
	Values  []string `json:"values,omitempty"` // KindEnum
}

// SectionSpec is the options of one section type.
type SectionSpec struct {
	Type    string   `json:"type"`
	Options []Option `json:"options"`
}

func flag(name string, def bool) Option {
	d := "0"
	if def {
		d = "1"
	}
	return Option{Name: name, Kind: KindBool, Default: d}
}

func intOpt(name string, def, min, max int, unit string) Option {
	return Option{Name: name, Kind: KindInt, Default: strconv.Itoa(def), Min: float64(min), Max: float64(max), Unit: unit}
}

func secondsOpt(name string, def, min, max float64) Option {
	return Option{Name: name, Kind: KindSeconds, Default: strconv.FormatFloat(def, 'f', -1, 64), Min: min, Max: max, Unit: "s"}
}

func enum(name, def string, values ...string) Option {
	return Option{Name: name, Kind: KindEnum, Default: def, Values: values}
}

func str(name, def string) Option { return Option{Name: name, Kind: KindString, Default: def} }

func list(name, def string) Option { return Option{Name: name, Kind: KindList, Default: def} }

// schema is every section type and option wanlb reads from
// /etc/config/wanlb, in the order the README documents them.
var schema = []SectionSpec{
	{"globals", []Option{
		flag("enabled", true),
		flag("load_balancing", true),
		flag("app_optimized", false),
		flag("bandwidth_based", false),
		enum("last_resort", "default", "default", "unreachable", "blackhole"),
		flag("flush_conntrack", true),
		str("mark_mask", "0x3f000000"),
		enum("backend", "auto", "auto", "nftables", "iptables"),
		enum("ipv6_mode", string(IPv6Translated), string(IPv6Translated), string(IPv6Routed)),
		str("hook", "/etc/wanlb.user"),
		enum("log_level", "info", "debug", "info", "warn", "error"),
	}},
	{"ui", []Option{
		flag("enabled", true),
		list("listen", "lan:8088"),
		enum("auth", "system", "system", "password"),
		str("password_hash", ""),
		intOpt("session_timeout", 3600, 60, 7*24*3600, "s"),
		flag("metrics", false),
		list("metrics_allow", ""),
		str("cert", DefaultUICert),
		str("key", DefaultUIKey),
	}},
	{"wan", []Option{
		flag("enabled", true),
		str("label", ""),
		str("device", ""),
		str("gateway", ""),
		intOpt("weight", 1, 1, MaxWeight, ""),
		intOpt("upstream", 0, 0, MaxBandwidth, "kbit/s"),
		intOpt("downstream", 0, 0, MaxBandwidth, "kbit/s"),
		enum("detection", "auto", string(DetectAuto), string(DetectManual), string(DetectAlwaysOnline)),
		list("track", ""),
		intOpt("reliability", 1, 1, 100, ""),
		secondsOpt("interval", 1, MinInterval.Seconds(), MaxInterval.Seconds()),
		secondsOpt("timeout", 1, MinTimeout.Seconds(), MaxTimeout.Seconds()),
		intOpt("down", 3, 1, MaxRounds, ""),
		intOpt("up", 3, 1, MaxRounds, ""),
		intOpt("max_latency", 0, 0, MaxLatencyMs, "ms"),
		intOpt("max_loss", 0, 0, 100, "%"),
		enum("ipv6", "auto", "auto", "on", "off"),
		str("interface6", ""),
		str("device6", ""),
		str("gateway6", ""),
		flag("passive", true),
		secondsOpt("passive_window", 0.4, MinPassiveWindow.Seconds(), MaxPassiveWindow.Seconds()),
	}},
	{"link_backup", []Option{
		flag("enabled", true),
		str("name", ""),
		list("primary", ""),
		list("backup", ""),
		enum("mode", string(ModeFailover), string(ModeFailover), string(ModeTiming)),
		enum("trigger", "any", "any", "all"),
		flag("revert", true),
		str("weekdays", ""),
		str("start_time", ""),
		str("stop_time", ""),
	}},
	{"rule", []Option{
		flag("enabled", true),
		str("name", ""),
		enum("proto", string(ProtoAll), string(ProtoAll), string(ProtoTCP), string(ProtoUDP), string(ProtoICMP), string(ProtoTCPUDP)),
		list("src_ip", ""),
		list("dest_ip", ""),
		str("src_port", ""),
		str("dest_port", ""),
		list("wan", ""),
		flag("fallback", true),
	}},
}

// MinTimeout is the shortest probe timeout.
const MinTimeout = 100 * time.Millisecond

// Limits of passive_window: below 0.2 s a reply on a slow line may not
// be back yet; above 10 s the watch no longer beats the probes.
const (
	MinPassiveWindow = 200 * time.Millisecond
	MaxPassiveWindow = 10 * time.Second
)

var specIndex = func() map[string]map[string]Option {
	idx := map[string]map[string]Option{}
	for _, s := range schema {
		idx[s.Type] = map[string]Option{}
		for _, o := range s.Options {
			idx[s.Type][o.Name] = o
		}
	}
	return idx
}()

// Schema returns every section type and its options.
func Schema() []SectionSpec {
	out := make([]SectionSpec, len(schema))
	for i, s := range schema {
		out[i] = SectionSpec{Type: s.Type, Options: append([]Option(nil), s.Options...)}
	}
	return out
}

// Spec returns the option name of section type typ.
func Spec(typ, name string) (Option, bool) {
	o, ok := specIndex[typ][name]
	return o, ok
}

// mustSpec is Spec for the validator, which only asks for options the
// schema declares; a miss is a bug in this package.
func mustSpec(typ, name string) Option {
	o, ok := Spec(typ, name)
	if !ok {
		panic(fmt.Sprintf("config: %s.%s is not in the schema", typ, name))
	}
	return o
}

// DefaultBool is the default of a boolean option.
func DefaultBool(typ, name string) bool {
	b, _ := ParseBool(mustSpec(typ, name).Default)
	return b
}

// Default is the default UCI text of an option.
func Default(typ, name string) string { return mustSpec(typ, name).Default }
