package daemon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/netifd"
	"github.com/wanlb/wanlb/internal/tlscert"
)

// How and where the web UI may serve: TLS from ui.cert/ui.key, and
// warnings for ui.listen addresses that reach beyond the LAN. `wanlb
// check` and the daemon both use these.

func uiProblem(option, value, msg string, warning bool) config.Problem {
	return config.Problem{Section: "ui", Option: option, Value: value, HasVal: true, Msg: msg, Warning: warning}
}

// UITLS loads the UI's certificate. With neither ui.cert nor ui.key on
// disk the UI serves plain HTTP (nil, no problems); with both it serves
// HTTPS only, and a pair that cannot be used is an error: the UI then
// serves nothing rather than passwords in clear text.
func UITLS(ui config.UI) (*tls.Config, []config.Problem) {
	_, certErr := os.Stat(ui.Cert)
	_, keyErr := os.Stat(ui.Key)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return nil, nil
	case errors.Is(certErr, fs.ErrNotExist):
		return nil, []config.Problem{uiProblem("cert", ui.Cert, "no such file, but ui.key exists; the UI serves plain HTTP until both do", true)}
	case errors.Is(keyErr, fs.ErrNotExist):
		return nil, []config.Problem{uiProblem("key", ui.Key, "no such file, but ui.cert exists; the UI serves plain HTTP until both do", true)}
	}
	certData, err := os.ReadFile(ui.Cert)
	if err != nil {
		return nil, []config.Problem{uiProblem("cert", ui.Cert, "cannot be read: "+err.Error(), false)}
	}
	keyData, err := os.ReadFile(ui.Key)
	if err != nil {
		return nil, []config.Problem{uiProblem("key", ui.Key, "cannot be read: "+err.Error(), false)}
	}
	cert, err := tlscert.Parse(certData, keyData)
	if err != nil {
		// The option named says which file; the message, what is wrong.
		opt, val, msg := "cert", ui.Cert, err.Error()
		var pe *tlscert.Error
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
			if pe.Key {
				opt, val = "key", ui.Key
			}
		}
		return nil, []config.Problem{uiProblem(opt, val, "cannot be used: "+msg, false)}
	}
	// HTTP/1.1 only: HTTP/2's many streams per connection would get
	// around the per-connection limits.
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}, nil
}

// certStamp tells whether ui.cert or ui.key changed: path, size and time
// of each.
func certStamp(ui config.UI) string {
	var b strings.Builder
	for _, p := range []string{ui.Cert, ui.Key} {
		fmt.Fprintf(&b, "%s:", p)
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d@%d;", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String()
}

// WANAddrs are the addresses each WAN has now: netifd's (when there is a
// netifd to ask) and the kernel's on the configured device.
func WANAddrs(ctx context.Context, c *config.Config, status func(ctx context.Context, name string) (netifd.Interface, error)) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, w := range c.WANs {
		var addrs []netip.Addr
		dev := w.Device
		if status != nil {
			if ifc, err := status(ctx, w.Name); err == nil {
				for _, p := range ifc.Addrs {
					addrs = append(addrs, p.Addr())
				}
				if dev == "" {
					dev = ifc.Device
				}
			}
		}
		if dev != "" {
			if ifc, err := net.InterfaceByName(dev); err == nil {
				as, _ := ifc.Addrs()
				for _, a := range as {
					if n, ok := a.(*net.IPNet); ok {
						if ip, ok := netip.AddrFromSlice(n.IP); ok {
							addrs = append(addrs, ip.Unmap())
						}
					}
				}
			}
		}
		out[w.Name] = addrs
	}
	return out
}

// ListenWarnings names the ui.listen entries that open the UI beyond the
// LAN: a wildcard address (every interface, the WANs' too), a WAN's
// interface, or an address a WAN has.
func ListenWarnings(listen []string, wanAddrs map[string][]netip.Addr) []config.Problem {
	var out []config.Problem
	wans := slices.Sorted(func(yield func(string) bool) {
		for k := range wanAddrs {
			if !yield(k) {
				return
			}
		}
	})
	for _, l := range listen {
		host := l
		if i := strings.LastIndexByte(l, ':'); i >= 0 {
			host = strings.Trim(l[:i], "[]")
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			if _, ok := wanAddrs[host]; ok {
				out = append(out, uiProblem("listen", l, fmt.Sprintf("%s is a WAN: the UI would face the internet; use the LAN, e.g. 'lan:8088'", host), true))
			}
			continue
		}
		ip = ip.Unmap()
		if ip.IsUnspecified() {
			out = append(out, uiProblem("listen", l, "a wildcard address listens on every interface, the WANs' too; use the LAN address or 'lan:8088'", true))
			continue
		}
		for _, w := range wans {
			if slices.Contains(wanAddrs[w], ip) {
				out = append(out, uiProblem("listen", l, fmt.Sprintf("is an address of WAN %s: the UI would face the internet; use the LAN address or 'lan:8088'", w), true))
			}
		}
	}
	return out
}

// wildcardHosts: a UI listening on a wildcard address is reached by any
// of the router's addresses, so each of them is a valid Host.
func wildcardHosts(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if ap, err := netip.ParseAddrPort(a); err != nil || !ap.Addr().IsUnspecified() {
			continue
		}
		ifAddrs, _ := net.InterfaceAddrs()
		for _, ia := range ifAddrs {
			if n, ok := ia.(*net.IPNet); ok {
				out = append(out, n.IP.String())
			}
		}
		break
	}
	return out
}

// listenNetwork keeps IPv4 addresses on IPv4 sockets: "tcp" on 0.0.0.0
// would also accept IPv6 connections on every address.
func listenNetwork(addr string) string {
	if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr().Is6() && !ap.Addr().Is4In6() {
		return "tcp6"
	}
	return "tcp4"
}

// UIInfoName is the file in the run directory that tells LuCI's menu
// entry where and how the UI serves, so its link says https:// when the
// UI uses TLS. It exists only while the UI does.
const UIInfoName = "ui.json"

// UIInfo is UIInfoName's content.
type UIInfo struct {
	Scheme    string   `json:"scheme"`    // "http" or "https"
	Addresses []string `json:"addresses"` // <ip>:<port> the UI listens on
}

func (d *Daemon) writeUIInfo(info *UIInfo) {
	if d.opts.RunDir == "" {
		return
	}
	path := filepath.Join(d.opts.RunDir, UIInfoName)
	if info == nil {
		os.Remove(path)
		return
	}
	b, _ := json.Marshal(info)
	if err := os.MkdirAll(d.opts.RunDir, 0o755); err != nil {
		d.log.Warn(fmt.Sprintf("writing %s: %v", path, err))
		return
	}
	// Written whole, then renamed: LuCI never reads half a file.
	err := os.WriteFile(path+".new", b, 0o644)
	if err == nil {
		err = os.Rename(path+".new", path)
	}
	if err != nil {
		d.log.Warn(fmt.Sprintf("writing %s: %v", path, err))
	}
}
