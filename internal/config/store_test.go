package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wanlb/wanlb/internal/uciconf"
)

func newStore(t *testing.T, text string) (Store, *int) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	reloads := new(int)
	return Store{Dir: dir, Reload: func(context.Context) error { *reloads++; return nil }}, reloads
}

func TestStoreEdit(t *testing.T) {
	const orig = "config wan 'wan'\n\toption weight '2'\n\toption custom 'kept'\n\nconfig wan 'wan2'\n"
	tests := []struct {
		name    string
		change  func(f *uciconf.File) error
		wantErr string // "" = written
	}{
		{"valid", func(f *uciconf.File) error { f.Section("wan").Set("weight", "5"); return nil }, ""},
		{"invalid", func(f *uciconf.File) error { f.Section("wan").Set("weight", "500"); return nil },
			"wanlb.wan.weight: must be between 1 and 100 (got '500')"},
		{"change fails", func(f *uciconf.File) error { return errors.New("no such wan") }, "no such wan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, reloads := newStore(t, orig)
			c, err := s.Edit(context.Background(), tt.change)
			got, _ := os.ReadFile(s.Path())
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if string(got) != orig || *reloads != 0 {
					t.Errorf("refused edit touched the file or reloaded (%d):\n%s", *reloads, got)
				}
				return
			}
			if err != nil || c == nil || c.WANs[0].Weight != 5 {
				t.Fatalf("Edit = %+v, %v", c, err)
			}
			if *reloads != 1 {
				t.Errorf("%d reloads, want 1", *reloads)
			}
			// uci commit's format, the unknown option and the order kept.
			want := "\nconfig wan 'wan'\n\toption weight '5'\n\toption custom 'kept'\n\nconfig wan 'wan2'\n\n"
			if string(got) != want {
				t.Errorf("file:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestStoreReloadError(t *testing.T) {
	s, _ := newStore(t, "config wan 'wan'\n")
	s.Reload = func(context.Context) error { return errors.New("daemon refused") }
	_, err := s.Edit(context.Background(), func(f *uciconf.File) error { f.Section("wan").Set("weight", "3"); return nil })
	if !IsReload(err) {
		t.Fatalf("err = %v, want a reload error", err)
	}
	if _, c, _, _ := s.Read(); c == nil || c.WANs[0].Weight != 3 {
		t.Errorf("the file was not written before the reload")
	}
}

// TestStoreConcurrent: edits from many goroutines each see the one before
// (read-modify-write under the store's lock), so no increment is lost.
func TestStoreConcurrent(t *testing.T) {
	s, _ := newStore(t, "config wan 'wan'\n\toption weight '1'\n")
	const n = 40
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Store{Dir: s.Dir}.Edit(context.Background(), func(f *uciconf.File) error {
				o, _ := f.Section("wan").Get("weight")
				w, _ := strconv.Atoi(o.Values[0])
				f.Section("wan").Set("weight", strconv.Itoa(w+1))
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, c, _, _ := s.Read(); c == nil || c.WANs[0].Weight != n+1 {
		t.Errorf("weight = %+v, want %d", c, n+1)
	}
}

func TestSingleton(t *testing.T) {
	f, _ := uciconf.Parse(strings.NewReader("config globals 'first'\nconfig globals 'globals'\n"))
	s, _ := Singleton(f, "globals")
	if s.Name != "first" {
		t.Errorf("Singleton = %q, want the first globals section, the one the validator reads", s.Name)
	}
	f, _ = uciconf.Parse(strings.NewReader("config wan 'wan'\n"))
	if s, _ := Singleton(f, "ui"); s.Name != "ui" || len(f.OfType("ui")) != 1 {
		t.Errorf("Singleton did not add a ui section")
	}
}
