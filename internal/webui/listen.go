package webui

import (
	"net"
	"net/http"
	"time"

	"github.com/wanlb/wanlb/internal/connlimit"
)

// What a client may hold of the router. Each open connection costs the
// server some 10-20 kB (a goroutine, read and write buffers), and routers
// have 64-128 MB: the caps keep a flood under ~4 MB. A browser opens at
// most 6 connections to a host, so 16 per client leaves room for several
// tabs; a request's headers come in one packet on a LAN, so 5 s is
// generous, and a body is at most MaxBody.
var Limits = connlimit.Limits{Total: 128, PerClient: 16}

const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 20 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 30 * time.Second
	MaxHeaderBytes    = 8 << 10
)

// NewHTTPServer returns an http.Server for h with the timeouts and
// header limit above.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout,
		WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout, MaxHeaderBytes: MaxHeaderBytes}
}

// Limit wraps ln with the connection caps (Limits) and hooks them into
// srv; serve srv on the listener it returns (wrapped in TLS if need be).
func Limit(srv *http.Server, ln net.Listener) *connlimit.Listener {
	l := connlimit.New(ln, Limits)
	srv.ConnState = l.ConnState
	return l
}
