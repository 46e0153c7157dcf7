package uciconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// WriteTo writes f in libuci's canonical export format, what `uci commit`
// writes: an empty line before each section and at the end, one line per
// option or list item, every value single-quoted with each quote inside
// written as quote-backslash-quote-quote. Options with an empty value and
// lists without values are left out, as libuci cannot hold them. It fails,
// writing nothing, on an invalid or duplicate name, an invalid type, an
// option without exactly one value, or a NUL byte in a value.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	b, err := f.render()
	if err != nil {
		return 0, fmt.Errorf("uciconf: %w", err)
	}
	n, err := w.Write(b)
	return int64(n), err
}

func (f *File) render() ([]byte, error) {
	var b bytes.Buffer
	sections := map[string]bool{}
	for _, s := range f.Sections {
		if s == nil {
			continue
		}
		if !ValidType(s.Type) {
			return nil, fmt.Errorf("invalid section type %q", s.Type)
		}
		b.WriteString("\nconfig ")
		// libuci writes the type unquoted; the few types that would not read
		// back that way are quoted instead.
		if strings.ContainsAny(s.Type, `'"\#;`) {
			b.WriteString(quote(s.Type))
		} else {
			b.WriteString(s.Type)
		}
		if s.Name != "" {
			if !ValidName(s.Name) || sections[s.Name] {
				return nil, fmt.Errorf("invalid or duplicate section name %q", s.Name)
			}
			sections[s.Name] = true
			b.WriteString(" " + quote(s.Name))
		}
		b.WriteByte('\n')
		options := map[string]bool{}
		for _, o := range s.Options {
			if o == nil {
				continue
			}
			if !ValidName(o.Name) || options[o.Name] {
				return nil, fmt.Errorf("section %s: invalid or duplicate option name %q", f.ID(s), o.Name)
			}
			options[o.Name] = true
			if !o.List && len(o.Values) != 1 {
				return nil, fmt.Errorf("section %s: option %s has %d values, want 1", f.ID(s), o.Name, len(o.Values))
			}
			for _, v := range o.Values {
				if strings.IndexByte(v, 0) >= 0 {
					return nil, fmt.Errorf("section %s: option %s: NUL byte in value", f.ID(s), o.Name)
				}
				if o.List {
					b.WriteString("\tlist " + o.Name + " " + quote(v) + "\n")
				} else if v != "" {
					b.WriteString("\toption " + o.Name + " " + quote(v) + "\n")
				}
			}
		}
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// quote single-quotes s the way libuci's uci_escape does.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ReadFile parses the UCI file at path, holding a shared flock on it while
// reading as libuci does, so it never sees a libuci writer's half-written file.
func ReadFile(path string) (*File, error) {
	// Like libuci, refuse anything but a regular file (opening a FIFO would block).
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("uciconf: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("uciconf: %s: not a regular file", path)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("uciconf: %w", err)
	}
	defer fh.Close() // also releases the lock
	if err := flock(fh, syscall.LOCK_SH); err != nil {
		return nil, fmt.Errorf("uciconf: lock %s: %w", path, err)
	}
	f, err := Parse(fh)
	if err != nil {
		return nil, fmt.Errorf("uciconf: %s: %w", path, err)
	}
	return f, nil
}

// WriteFile atomically replaces the file at path with f's canonical text.
// Like `uci commit` it takes an exclusive flock on the target (creating it,
// mode 0644 before umask, if missing), writes and fsyncs a temporary file in
// the same directory, keeps the old file's permission bits and renames the
// temporary file over the target; it then fsyncs the directory and only
// then releases the lock. A symlink is followed: its target is replaced. On
// error nothing is left behind: no temporary file, and no empty target if it
// did not exist before.
func WriteFile(path string, f *File) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("uciconf: write %s: %w", path, err)
		}
	}()
	data, err := f.render()
	if err != nil {
		return err
	}
	lock, existed, err := lockTarget(path)
	if err != nil {
		return err
	}
	defer lock.Close() // releases the lock, after the cleanup below
	target, renamed := path, false
	defer func() {
		if err == nil || existed || renamed {
			return
		}
		// Remove the file we created, unless someone else has filled it.
		if fi, e := lock.Stat(); e == nil && fi.Size() == 0 {
			os.Remove(target)
		}
	}()
	// Replace a symlink's target rather than the link, as libuci does.
	if target, err = filepath.EvalSymlinks(path); err != nil {
		target = path
		return err
	}
	fi, err := lock.Stat()
	if err != nil {
		return err
	}
	dir := filepath.Dir(target)
	// The leading dot and the extension keep libuci from listing it as a config.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".uciconf-*")
	if err != nil {
		return err
	}
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	renamed = true
	return syncDir(dir)
}

// lockTarget opens path, creating it if missing, and takes an exclusive
// flock on it. If the file was replaced while we waited (another writer
// renamed over it), the lock is on a dead inode, so it retries. existed
// reports whether the file was there before.
func lockTarget(path string) (fh *os.File, existed bool, err error) {
	for {
		_, err = os.Stat(path)
		existed = err == nil
		if fh, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
			return nil, false, err
		}
		if err := flock(fh, syscall.LOCK_EX); err != nil {
			fh.Close()
			return nil, false, fmt.Errorf("lock: %w", err)
		}
		held, err1 := fh.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return fh, existed, nil
		}
		fh.Close()
		if err1 != nil {
			return nil, false, err1
		}
		if err2 != nil && !errors.Is(err2, fs.ErrNotExist) {
			return nil, false, err2
		}
	}
}

// flock is flock(2), retried on EINTR; like libuci it treats a filesystem
// without locking support (ENOSYS) as success.
func flock(fh *os.File, how int) error {
	for {
		err := syscall.Flock(int(fh.Fd()), how)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.ENOSYS):
			return nil
		}
		return err
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
