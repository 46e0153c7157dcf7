package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/webui"
	"github.com/wanlb/wanlb/web"
)

// The web UI runs in the daemon: its API is a client of the state
// goroutine like the control socket.

// uiBackend adapts the daemon to webui.Backend; its methods run on HTTP
// goroutines and ask the state goroutine.
type uiBackend struct{ d *Daemon }

func (b uiBackend) Status(ctx context.Context) (any, error) {
	return b.d.ask(ctx, request{kind: "status"})
}

func (b uiBackend) History(ctx context.Context) (any, error) {
	return b.d.ask(ctx, request{kind: "history"})
}

func (b uiBackend) Reload(ctx context.Context) (bool, []string, error) {
	v, err := b.d.ask(ctx, request{kind: "reload"})
	if err != nil {
		return false, nil, err
	}
	r := v.(ReloadResult)
	return r.Applied, r.Problems, nil
}

func (b uiBackend) UI() config.UI { return *b.d.ui.Load() }

func (b uiBackend) Metrics(ctx context.Context) (webui.Metrics, error) {
	v, err := b.d.ask(ctx, request{kind: "metrics"})
	if err != nil {
		return webui.Metrics{}, err
	}
	return v.(webui.Metrics), nil
}

// listenAddrs turns ui.listen entries into addresses: <ip>:<port> as is,
// <interface>:<port> on every IPv4 address netifd has for the interface.
func (d *Daemon) listenAddrs(ctx context.Context) []string {
	var out []string
	for _, l := range d.cfg.UI.Listen {
		host, port, _ := strings.Cut(l, ":")
		if i := strings.LastIndexByte(l, ':'); i >= 0 {
			host, port = l[:i], l[i+1:]
		}
		if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
			out = append(out, net.JoinHostPort(ip.String(), port))
			continue
		}
		if d.kernel.Netifd == nil {
			d.log.Warn(fmt.Sprintf("ui.listen %s: no netifd to ask for %s's address", l, host))
			continue
		}
		ifc, err := d.kernel.Netifd(ctx, host)
		if err != nil || len(ifc.Addrs) == 0 {
			d.log.Warn(fmt.Sprintf("ui.listen %s: no address for interface %s yet", l, host))
			continue
		}
		for _, a := range ifc.Addrs {
			out = append(out, net.JoinHostPort(a.Addr().String(), port))
		}
	}
	return out
}

// startUI (re)starts the web UI's listeners when the config's ui section
// asks for something else than what runs, or the certificate files
// changed (uhttpd creates them on its first start).
func (d *Daemon) startUI(ctx context.Context) {
	ui := d.cfg.UI
	d.ui.Store(&ui)
	var addrs []string
	if ui.Enabled {
		addrs = d.listenAddrs(ctx)
	}
	key := addrs
	if len(addrs) > 0 {
		key = append(slices.Clone(addrs), certStamp(ui))
	}
	if slices.Equal(key, d.uiAddrs) {
		return
	}
	d.stopUI()
	d.uiAddrs = key
	if len(addrs) == 0 {
		return
	}
	for _, p := range ListenWarnings(ui.Listen, WANAddrs(ctx, d.cfg, d.kernel.Netifd)) {
		d.log.Warn(p.String())
	}
	tlsConfig, problems := UITLS(ui)
	for _, p := range problems {
		if p.Warning {
			d.log.Warn(p.String())
			continue
		}
		d.log.Error(p.String() + "; the web UI is not started")
		return
	}
	// The names and addresses a browser may use for the router (Host
	// header, against DNS rebinding): its names, and where the UI listens.
	hosts := append(webui.RouterNames("/proc/sys/kernel/hostname", d.opts.ConfigDir), addrs...)
	hosts = append(hosts, wildcardHosts(addrs)...)
	opts := webui.Options{ConfigDir: d.opts.ConfigDir, Static: web.Files(), Secure: tlsConfig != nil, Hosts: webui.NewHostPolicy(hosts...),
		Log: d.log, System: auth.RPCD{Socket: d.opts.UbusSocket}}
	handler := webui.New(opts, uiBackend{d})
	info := &UIInfo{}
	defer func() {
		if len(info.Addresses) > 0 {
			d.writeUIInfo(info)
		}
	}()
	for _, a := range addrs {
		srv := webui.NewHTTPServer(handler)
		ln, err := net.Listen(listenNetwork(a), a)
		if err != nil {
			d.log.Error(fmt.Sprintf("web UI on %s: %v", a, err))
			continue
		}
		d.uiServers = append(d.uiServers, srv)
		d.uiListeners = append(d.uiListeners, ln.Addr())
		var l net.Listener = webui.Limit(srv, ln)
		scheme := "http"
		if tlsConfig != nil {
			scheme = "https"
			l = tls.NewListener(l, tlsConfig)
		}
		info.Scheme, info.Addresses = scheme, append(info.Addresses, ln.Addr().String())
		d.log.Info(fmt.Sprintf("web UI on %s://%s", scheme, a))
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error(fmt.Sprintf("web UI on %s: %v", a, err))
			}
		}()
	}
}

func (d *Daemon) stopUI() {
	for _, s := range d.uiServers {
		s.Close()
	}
	if len(d.uiServers) > 0 {
		d.writeUIInfo(nil)
	}
	d.uiServers, d.uiAddrs, d.uiListeners = nil, nil, nil
}
