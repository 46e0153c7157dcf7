package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

const (
	// MaxSessions bounds the Store. A router UI has a handful of users;
	// the bound keeps repeated logins (each one a new session) from
	// growing memory without end.
	MaxSessions = 64
	// DefaultSessionTimeout applies when NewStore or SetTimeout is given
	// no positive timeout; it is the default of wanlb.ui.session_timeout.
	DefaultSessionTimeout = time.Hour
	// tokenBytes of randomness in each session ID and CSRF token: 256
	// bits, beyond guessing, base64url so they fit cookies and headers.
	tokenBytes = 32
)

// Session is one logged-in browser. ID goes into the session cookie, CSRF
// to the page, which sends it back in X-CSRF-Token on every mutating
// request; a cross-site form can send the cookie but cannot know CSRF.
type Session struct {
	ID       string
	Username string
	CSRF     string
	Expires  time.Time
	// Access is what the login may do with wanlb's settings, fixed at
	// login (rpcd's ACLs at that moment).
	Access Access
}

// Store holds the web UI's sessions in memory: a daemon restart logs
// everyone out, which is acceptable for a router UI and keeps secrets off
// flash. It is safe for concurrent use.
type Store struct {
	now func() time.Time

	mu       sync.Mutex
	timeout  time.Duration
	sessions map[string]*storedSession
	seq      uint64 // creation counter, breaks ties between equal expiries
}

type storedSession struct {
	Session
	seq uint64
}

// NewStore returns an empty Store whose sessions expire timeout after
// their last use. now is the clock (nil means time.Now); tests inject one.
func NewStore(timeout time.Duration, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	if timeout <= 0 {
		timeout = DefaultSessionTimeout
	}
	return &Store{now: now, timeout: timeout, sessions: make(map[string]*storedSession)}
}

// Create starts a session for username with access and returns it. When
// the Store is full, expired sessions go first, then the least recently
// used one, so a user who is active keeps working while someone logs in
// over and over.
func (s *Store) Create(username string, access Access) Session {
	sess := Session{ID: randomToken(), Username: username, CSRF: randomToken(), Access: access}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.sessions) >= MaxSessions {
		s.dropExpired(now)
	}
	for len(s.sessions) >= MaxSessions {
		s.evictLeastRecent()
	}
	sess.Expires = now.Add(s.timeout)
	s.seq++
	s.sessions[sess.ID] = &storedSession{Session: sess, seq: s.seq}
	return sess
}

// Get returns the session with this ID if it exists and has not expired,
// and extends its expiry to now + timeout (sliding expiry: an open UI that
// keeps polling stays logged in). An expired session is removed.
//
// The lookup is a map access, not a constant-time comparison; with 256
// random bits per ID, timing reveals nothing an attacker could use.
func (s *Store) Get(id string) (Session, bool) {
	if id == "" {
		return Session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.sessions[id]
	if !ok {
		return Session{}, false
	}
	now := s.now()
	if !now.Before(st.Expires) {
		delete(s.sessions, id)
		return Session{}, false
	}
	st.Expires = now.Add(s.timeout)
	return st.Session, true
}

// Delete ends a session (logout). Unknown IDs are ignored.
func (s *Store) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, id)
}

// SetTimeout changes the idle timeout after a config reload (zero or
// negative means DefaultSessionTimeout). A shorter timeout applies at once:
// sessions that would outlive it now expire at now + d; a longer one
// applies from each session's next use.
func (s *Store) SetTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultSessionTimeout
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timeout = d
	limit := s.now().Add(d)
	for _, st := range s.sessions {
		if st.Expires.After(limit) {
			st.Expires = limit
		}
	}
}

// dropExpired removes every session expired at now. Callers hold s.mu.
func (s *Store) dropExpired(now time.Time) {
	for id, st := range s.sessions {
		if !now.Before(st.Expires) {
			delete(s.sessions, id)
		}
	}
}

// evictLeastRecent removes the session with the earliest expiry, which,
// all sessions sharing one timeout, is the one used least recently; the
// oldest created goes first among equals. Callers hold s.mu.
func (s *Store) evictLeastRecent() {
	var victim *storedSession
	for _, st := range s.sessions {
		if victim == nil || st.Expires.Before(victim.Expires) ||
			(st.Expires.Equal(victim.Expires) && st.seq < victim.seq) {
			victim = st
		}
	}
	if victim != nil {
		delete(s.sessions, victim.ID)
	}
}

// CSRFOK reports whether token is the session's CSRF token. The comparison
// takes the same time however many leading characters match, and an empty
// token (a missing header) never matches, even a zero Session.
func CSRFOK(sess Session, token string) bool {
	if token == "" || sess.CSRF == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(sess.CSRF), []byte(token)) == 1
}

// randomToken returns tokenBytes random bytes in unpadded base64url.
// crypto/rand.Read never fails since Go 1.24 (it crashes the program
// rather than return predictable bytes), so there is no error to handle.
func randomToken() string {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
