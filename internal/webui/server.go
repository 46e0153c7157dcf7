// Package webui serves wanlb's web UI: the embedded pages and the JSON API
// under /api/ they use. Every API call but the login needs a session;
// every mutating call needs the session's CSRF token. Config writes are
// validated as a whole with the same validator as `wanlb check`, written
// with the project's UCI serializer, then applied by reloading the daemon.
//
// Any device on the LAN, and any page a LAN browser opens, can reach the
// UI, so it answers only requests naming the router (hosts.go), takes
// logins as JSON only (loginguard.go), reads and checks bodies strictly
// before taking the write lock (body.go) and caps connections and their
// time (listen.go).
package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/config"
)

// Backend is what the UI needs from the running daemon.
type Backend interface {
	// Status is the object `wanlb status --json` prints.
	Status(ctx context.Context) (any, error)
	// History holds the last 10 minutes of per-WAN samples.
	History(ctx context.Context) (any, error)
	// Reload re-reads the config; problems are set when it was refused.
	Reload(ctx context.Context) (applied bool, problems []string, err error)
	// UI is the running config's ui section.
	UI() config.UI
	// Metrics are the numbers GET /metrics shows.
	Metrics(ctx context.Context) (Metrics, error)
}

// Authenticator checks the router's own users (rpcd, like LuCI) and what
// they may do with wanlb's settings. A refused login is
// auth.ErrInvalidLogin; any other error means no answer could be had.
type Authenticator interface {
	Login(ctx context.Context, username, password string) (auth.Access, error)
}

// Options configure a Server.
type Options struct {
	ConfigDir string
	Static    fs.FS         // the pages; nil serves none (API tests)
	System    Authenticator // for ui.auth 'system'
	Now       func() time.Time
	// Secure marks the session cookie Secure (served over TLS).
	Secure bool
	// Log receives the server's warnings; nil means echo's default.
	Log *slog.Logger
	// Hosts are the Host header values answered (DNS rebinding); nil
	// answers loopback addresses and localhost only.
	Hosts *HostPolicy
}

// Server is the UI's http.Handler.
type Server struct {
	opts     Options
	backend  Backend
	sessions *auth.Store
	limiter  *auth.Limiter
	echo     *echo.Echo
}

// Limits of what clients may send and try.
const (
	MaxBody        = 64 << 10 // bytes of a request body
	LoginFailures  = 5        // failed logins per client address...
	LoginWindow    = time.Minute
	SessionCookie  = "wanlb_session"
	csrfHeader     = "X-CSRF-Token"
	sessionContext = "session"
)

// New builds the server.
func New(opts Options, b Backend) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Hosts == nil {
		opts.Hosts = NewHostPolicy()
	}
	s := &Server{
		opts:     opts,
		backend:  b,
		sessions: auth.NewStore(b.UI().SessionTimeout, opts.Now),
		limiter:  auth.NewLimiter(LoginFailures, LoginWindow, opts.Now),
	}
	e := echo.New()
	if opts.Log != nil {
		e.Logger = opts.Log
	}
	// The client address is the connection's: a header must not let a
	// client dodge the login rate limit.
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		var bad invalid
		if errors.As(err, &bad) {
			c.JSON(http.StatusBadRequest, map[string]any{"errors": bad})
			return
		}
		c.JSON(errorStatus(err))
	}
	e.Use(headers, s.checkHost)
	e.GET("/metrics", s.metrics)
	api := e.Group("/api", s.limitBody)
	api.POST("/login", s.login, jsonOnly)
	authed := e.Group("/api", s.limitBody, s.requireSession)
	authed.POST("/logout", s.logout)
	authed.GET("/session", s.session)
	authed.GET("/status", s.status)
	authed.GET("/history", s.history)
	authed.GET("/config", s.getConfig)
	authed.GET("/schema", s.getSchema)
	authed.PUT("/config/load_balancing", s.putLoadBalancing)
	authed.PUT("/config/online_detection", s.putOnlineDetection)
	authed.POST("/config/link_backups", s.addSection("link_backup"))
	authed.PUT("/config/link_backups/:id", s.editSection("link_backup"))
	authed.DELETE("/config/link_backups/:id", s.deleteSection("link_backup"))
	authed.POST("/config/rules", s.addSection("rule"))
	authed.PUT("/config/rules/:id", s.editSection("rule"))
	authed.DELETE("/config/rules/:id", s.deleteSection("rule"))
	authed.POST("/config/rules/:id/move", s.moveRule)
	// Anything else under /api/ is unknown, but only to those logged in.
	authed.Any("/*", func(c *echo.Context) error { return echo.NewHTTPError(http.StatusNotFound, "no such API") })
	if opts.Static != nil {
		e.StaticFS("/", opts.Static)
	}
	s.echo = e
	return s
}

// ServeHTTP serves the UI.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// headers are sent with every answer: the pages load nothing from
// elsewhere, may not be framed, and API answers are never cached.
func headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(c.Request().URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// errorStatus maps a handler's error to its status and JSON answer.
// Echo's own errors (no route: 404, wrong method: 405) are not all
// *echo.HTTPError but all implement echo.HTTPStatusCoder; anything else
// is a server fault, and its text stays in the server.
func errorStatus(err error) (int, map[string]string) {
	code := http.StatusInternalServerError
	var sc echo.HTTPStatusCoder
	if errors.As(err, &sc) && sc.StatusCode() >= 400 {
		code = sc.StatusCode()
	}
	msg := http.StatusText(code)
	var he *echo.HTTPError
	if code < 500 && errors.As(err, &he) && he.Message != "" {
		msg = he.Message
	}
	return code, map[string]string{"error": msg}
}

func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		r.Body = http.MaxBytesReader(c.Response(), r.Body, MaxBody)
		return next(c)
	}
}

// requireSession answers 401 without a valid session and 403 for a
// mutating request without the session's CSRF token, or from a login
// whose rpcd ACL grants no write access to wanlb's settings (logging out
// is not a change).
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		ck, err := c.Cookie(SessionCookie)
		if err != nil {
			return echo.NewHTTPError(http.StatusUnauthorized, "login required")
		}
		sess, ok := s.sessions.Get(ck.Value)
		if !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "login required")
		}
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !auth.CSRFOK(sess, c.Request().Header.Get(csrfHeader)) {
				return echo.NewHTTPError(http.StatusForbidden, "missing or wrong "+csrfHeader)
			}
			if !sess.Access.Write && c.Path() != "/api/logout" {
				return echo.NewHTTPError(http.StatusForbidden, noWrite(sess.Username))
			}
		}
		c.Set(sessionContext, sess)
		return next(c)
	}
}

// decode reads a JSON body into v, refusing unknown fields.
func decode(c *echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", MaxBody))
		}
		return echo.NewHTTPError(http.StatusBadRequest, "invalid JSON: "+err.Error())
	}
	return nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// login judges a login only after reserving one of the client's slots in
// the limiter (per address, per /64 for IPv6), so simultaneous guesses
// cannot outrun the count. The body is read first: a client sending it
// slowly holds no slot, so it cannot lock out others behind its address.
// A wrong login, and a right one that may neither read nor change
// settings, use their slot up; one that was not judged (rpcd not
// answering) gives it back, since it told the client nothing about the
// password. A successful login replaces the client's previous session.
func (s *Server) login(c *echo.Context) error {
	var req loginRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	client := auth.ClientKey(c.RealIP())
	attempt := s.limiter.Begin(client)
	if attempt == nil {
		return echo.NewHTTPError(http.StatusTooManyRequests, "too many failed logins; try again in a minute")
	}
	defer attempt.Release()
	access, err := s.check(c.Request().Context(), req)
	switch {
	case errors.Is(err, auth.ErrInvalidLogin):
		attempt.Fail()
		return echo.NewHTTPError(http.StatusUnauthorized, "invalid username and/or password")
	case err != nil:
		// Neither the username (a password typed into the wrong field)
		// nor the password is logged; err holds neither.
		c.Logger().Warn("web UI login from " + client + " not checked: " + err.Error())
		return echo.NewHTTPError(http.StatusServiceUnavailable, "the login service did not answer")
	case !access.Read && !access.Write:
		attempt.Fail()
		return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf(
			"user %q may not use wanlb: rpcd grants it neither read nor write access to uci config 'wanlb'", req.Username))
	}
	if old, err := c.Cookie(SessionCookie); err == nil {
		s.sessions.Delete(old.Value)
	}
	s.sessions.SetTimeout(s.backend.UI().SessionTimeout)
	sess := s.sessions.Create(req.Username, access)
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: sess.ID, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.opts.Secure})
	return c.JSON(http.StatusOK, sessionInfo(sess))
}

// sessionInfo is what login and GET /api/session tell the page.
func sessionInfo(sess auth.Session) map[string]any {
	return map[string]any{"csrf_token": sess.CSRF, "username": sess.Username, "can_write": sess.Access.Write}
}

// noWrite explains a refused change by a read-only login.
func noWrite(user string) string {
	return fmt.Sprintf("user %q may view but not change settings: rpcd grants it no write access to uci config 'wanlb'", user)
}

// check verifies credentials the way ui.auth says; a refused login is
// auth.ErrInvalidLogin.
func (s *Server) check(ctx context.Context, req loginRequest) (auth.Access, error) {
	if req.Username == "" || req.Password == "" || len(req.Username) > 64 || len(req.Password) > auth.MaxPasswordLen {
		return auth.Access{}, auth.ErrInvalidLogin
	}
	ui := s.backend.UI()
	if ui.Auth == "password" {
		if req.Username != "root" && req.Username != "admin" {
			return auth.Access{}, auth.ErrInvalidLogin
		}
		ok, err := auth.VerifyCrypt(ui.PasswordHash, req.Password)
		if err != nil {
			return auth.Access{}, fmt.Errorf("ui.password_hash: %w", err)
		}
		if !ok {
			return auth.Access{}, auth.ErrInvalidLogin
		}
		return auth.Full, nil
	}
	if s.opts.System == nil {
		return auth.Access{}, errors.New("no system login available")
	}
	return s.opts.System.Login(ctx, req.Username, req.Password)
}

func current(c *echo.Context) auth.Session {
	sess, _ := c.Get(sessionContext).(auth.Session)
	return sess
}

func (s *Server) logout(c *echo.Context) error {
	s.sessions.Delete(current(c).ID)
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.opts.Secure})
	return c.JSON(http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) session(c *echo.Context) error {
	return c.JSON(http.StatusOK, sessionInfo(current(c)))
}

func (s *Server) status(c *echo.Context) error {
	st, err := s.backend.Status(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) history(c *echo.Context) error {
	h, err := s.backend.History(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}
