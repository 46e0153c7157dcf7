package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// The control socket: HTTP over a unix socket in the run directory, mode
// 0600 (root only). The CLI uses it, and the web UI will serve the same
// state. Handlers never touch daemon state: they send the state goroutine a
// request and wait for its answer.

// SocketName is the control socket's file name in the run directory.
const SocketName = "wanlb.sock"

// request is a question for the state goroutine.
type request struct {
	kind   string // "status", "reload", "hotplug"
	iface  string
	action string
	reply  chan any
}

// ReloadResult answers a reload.
type ReloadResult struct {
	Applied  bool     `json:"applied"`
	Problems []string `json:"problems,omitempty"`
}

// Control socket deadlines. Its clients (the CLI, the hotplug script) send
// one small request at once and read the answer, so a connection that is
// silent, sends its request slowly or lingers after its answer is cut off
// instead of holding a goroutine and a descriptor for good. The write
// deadline leaves room for a reload, which applies the new plan.
const (
	ControlReadTimeout  = 3 * time.Second  // the whole request, body included
	ControlIdleTimeout  = 3 * time.Second  // between requests on one connection
	ControlWriteTimeout = 30 * time.Second // from the request's end to the answer's
)

// controlServer serves the control socket's handler with its deadlines.
func (d *Daemon) controlServer() *http.Server {
	return &http.Server{
		Handler:           d.handler(),
		ReadHeaderTimeout: ControlReadTimeout,
		ReadTimeout:       ControlReadTimeout,
		IdleTimeout:       ControlIdleTimeout,
		WriteTimeout:      ControlWriteTimeout,
	}
}

func (d *Daemon) ask(ctx context.Context, r request) (any, error) {
	r.reply = make(chan any, 1)
	select {
	case d.events <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case v := <-r.reply:
		return v, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var ifaceRe = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)

func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, r *http.Request, req request) {
		v, err := d.ask(r.Context(), req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		answer(w, r, request{kind: "status"})
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		answer(w, r, request{kind: "reload"})
	})
	mux.HandleFunc("POST /hotplug", func(w http.ResponseWriter, r *http.Request) {
		iface, action := r.FormValue("iface"), r.FormValue("action")
		if !ifaceRe.MatchString(iface) {
			http.Error(w, "bad interface name", http.StatusBadRequest)
			return
		}
		switch action {
		case "ifup", "ifdown", "ifupdate":
		default:
			http.Error(w, "action must be ifup, ifdown or ifupdate", http.StatusBadRequest)
			return
		}
		answer(w, r, request{kind: "hotplug", iface: iface, action: action})
	})
	return mux
}

// listen opens the control socket. A socket file left by a killed daemon
// is replaced; one a running daemon answers on is an error.
func (d *Daemon) listen() (net.Listener, error) {
	if err := os.MkdirAll(d.opts.RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	path := filepath.Join(d.opts.RunDir, SocketName)
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another wanlb daemon is running (%s answers)", path)
	}
	os.Remove(path)
	// The umask makes the socket 0600 from its creation on: no moment
	// where another user could connect.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// Client talks to a running daemon.
type Client struct{ RunDir string }

func (c Client) http() *http.Client {
	path := filepath.Join(c.RunDir, SocketName)
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}
}

func (c Client) do(method, path string, body io.Reader, out any) error {
	req, err := http.NewRequest(method, "http://wanlb"+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return c.dialError(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("daemon answered %s: %s", resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

// dialError tells a user who may not use the socket (it is root's, mode
// 0600) from a daemon that is not running: both fail to connect, and
// "not running" would send them looking for the wrong problem.
func (c Client) dialError(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("control socket %s: %w", filepath.Join(c.RunDir, SocketName), os.ErrPermission)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return ErrNotRunning
	}
	return err
}

// Status asks for the daemon's status.
func (c Client) Status() (Status, error) {
	var s Status
	return s, c.do("GET", "/status", nil, &s)
}

// Reload makes the daemon re-read its config.
func (c Client) Reload() (ReloadResult, error) {
	var r ReloadResult
	return r, c.do("POST", "/reload", nil, &r)
}

// Hotplug tells the daemon that netifd brought an interface up or down.
func (c Client) Hotplug(action, iface string) error {
	var ok bool
	return c.do("POST", "/hotplug", strings.NewReader(url.Values{"action": {action}, "iface": {iface}}.Encode()), &ok)
}
