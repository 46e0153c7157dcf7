package config

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/wanlb/wanlb/internal/uciconf"
)

// Store is the config file on disk, the one way wanlb's own writers (the
// web API, `wanlb passwd`) change it: read, change, validate the whole
// file, write it atomically, then have the daemon reload. Nothing is
// written when the result has an error, so a running router keeps its
// last good config.
type Store struct {
	Dir string
	// Reload, when set, makes the daemon apply a written file. Its error
	// comes back from Edit wrapped in a *ReloadError: the file was written.
	Reload func(ctx context.Context) error
}

// storeLocks serialise read-modify-write of one file inside this process;
// uciconf.WriteFile's flock keeps out other writers such as the uci tool.
var storeLocks sync.Map // path -> *sync.Mutex

// Path is the config file.
func (s Store) Path() string { return filepath.Join(s.Dir, FileName) }

func (s Store) lock() func() {
	m, _ := storeLocks.LoadOrStore(s.Path(), &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// Read parses the file and validates it: Config is nil when the problems
// hold an error.
func (s Store) Read() (*uciconf.File, *Config, []Problem, error) {
	f, err := uciconf.ReadFile(s.Path())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read config: %w", err)
	}
	c, ps := FromUCI(f)
	return f, c, ps, nil
}

// InvalidError is an edit refused because the changed file has errors;
// File is the changed file, to name the sections the problems are in.
type InvalidError struct {
	File     *uciconf.File
	Problems []Problem // errors only
}

func (e *InvalidError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].String()
	}
	return fmt.Sprintf("%s (and %d more problems)", e.Problems[0], len(e.Problems)-1)
}

// ReloadError is a reload that failed after the file was written.
type ReloadError struct{ Err error }

func (e *ReloadError) Error() string { return "reload: " + e.Err.Error() }
func (e *ReloadError) Unwrap() error { return e.Err }

// Edit runs change on the file and, when the whole result is valid,
// writes it and reloads. An error from change is returned as it is.
func (s Store) Edit(ctx context.Context, change func(f *uciconf.File) error) (*Config, error) {
	unlock := s.lock()
	defer unlock()
	f, err := uciconf.ReadFile(s.Path())
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if err := change(f); err != nil {
		return nil, err
	}
	c, ps := FromUCI(f)
	if c == nil {
		return nil, &InvalidError{File: f, Problems: Errors(ps)}
	}
	if err := uciconf.WriteFile(s.Path(), f); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	if s.Reload != nil {
		if err := s.Reload(ctx); err != nil {
			return c, &ReloadError{Err: err}
		}
	}
	return c, nil
}

// IsReload reports whether err is a reload failure after a write.
func IsReload(err error) bool {
	var r *ReloadError
	return errors.As(err, &r)
}

// Singleton returns the section of a type wanlb reads once (globals, ui):
// the one named after the type, else the first of the type, else a new
// one named after it. The validator uses the first of the type, and so
// must writers.
func Singleton(f *uciconf.File, typ string) (*uciconf.Section, error) {
	if all := f.OfType(typ); len(all) > 0 {
		return all[0], nil
	}
	return f.Add(typ, typ)
}
