package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

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
		} else if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(server, "["), "]")); err == nil && a.Zone() == "" {
			t.Addr = a // IPv6 in brackets, as in URLs: dns://[2001:db8::1]/name
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
