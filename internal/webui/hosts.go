package webui

import (
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/wanlb/wanlb/internal/uciconf"
)

// DNS rebinding: a page from evil.example can make its own name resolve
// to the router, and the browser then sends it the UI's answers as
// same-origin. Such requests carry Host: evil.example, so the UI answers
// only requests whose Host is one of the router's own names or addresses.

// HostPolicy is the set of Host header values the UI answers.
type HostPolicy struct {
	names map[string]bool
	addrs map[netip.Addr]bool
}

// NewHostPolicy allows the given names (case does not matter) and
// addresses, and the loopback addresses (an IP literal cannot be
// rebound, and the demo and ssh tunnels reach the UI that way). Entries
// may carry a port; it is ignored.
func NewHostPolicy(hosts ...string) *HostPolicy {
	p := &HostPolicy{names: map[string]bool{"localhost": true}, addrs: map[netip.Addr]bool{}}
	for _, h := range hosts {
		h = hostOnly(h)
		if a, err := netip.ParseAddr(h); err == nil {
			p.addrs[a.Unmap().WithZone("")] = true
		} else if h != "" {
			p.names[h] = true
		}
	}
	return p
}

// hostOnly strips the port, IPv6 brackets, a trailing dot and case.
func hostOnly(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(h, ".")
}

// Allowed tells whether a request's Host header names the router.
func (p *HostPolicy) Allowed(host string) bool {
	if host == "" {
		return false
	}
	h := hostOnly(host)
	if a, err := netip.ParseAddr(h); err == nil {
		a = a.Unmap().WithZone("")
		return p.addrs[a] || a.IsLoopback()
	}
	return p.names[h]
}

// checkHost refuses requests for other names with 421 Misdirected Request.
func (s *Server) checkHost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		if !s.opts.Hosts.Allowed(c.Request().Host) {
			return echo.NewHTTPError(http.StatusMisdirectedRequest, "unknown host name; open the UI by the router's name or address")
		}
		return next(c)
	}
}

// RouterNames are the names a LAN client may use for the router: the
// kernel's hostname (from hostnameFile, /proc/sys/kernel/hostname) and
// system.@system[0].hostname from configDir, each as is, as <name>.lan
// (OpenWrt's default domain) and as <name>.<domain> with dnsmasq's
// `option domain` from configDir/dhcp.
func RouterNames(hostnameFile, configDir string) []string {
	var hosts []string
	if b, err := os.ReadFile(hostnameFile); err == nil {
		hosts = append(hosts, strings.TrimSpace(string(b)))
	}
	if f, err := uciconf.ReadFile(filepath.Join(configDir, "system")); err == nil {
		if sys := f.OfType("system"); len(sys) > 0 {
			hosts = append(hosts, lastValue(sys[0], "hostname"))
		}
	}
	domains := []string{"lan"}
	if f, err := uciconf.ReadFile(filepath.Join(configDir, "dhcp")); err == nil {
		for _, s := range f.OfType("dnsmasq") {
			if d := strings.Trim(lastValue(s, "domain"), "."); d != "" {
				domains = append(domains, d)
			}
		}
	}
	var out []string
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, " /:") {
			continue
		}
		out = append(out, h)
		for _, d := range domains {
			out = append(out, h+"."+d)
		}
	}
	return out
}

func lastValue(s *uciconf.Section, name string) string {
	if o, ok := s.Get(name); ok && len(o.Values) > 0 {
		return o.Values[len(o.Values)-1]
	}
	return ""
}
