package uciconf

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func render(t *testing.T, f *File) string {
	t.Helper()
	var b bytes.Buffer
	n, err := f.WriteTo(&b)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, b.Len())
	}
	return b.String()
}

func mustParse(t *testing.T, s string) *File {
	t.Helper()
	f, err := Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return f
}

// canonical.uci is what libuci's export writes; messy.uci holds the same
// configuration in the other syntaxes libuci accepts (libuci exports it as
// canonical.uci too).
func TestGolden(t *testing.T) {
	want, err := os.ReadFile("testdata/canonical.uci")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"canonical.uci", "messy.uci"} {
		f, err := ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := render(t, f); got != string(want) {
			t.Errorf("%s exported as\n%s\nwant\n%s", name, got, want)
		}
	}
}

func TestWriteFormat(t *testing.T) {
	f := &File{}
	wan, _ := f.Add("wan", "wan")
	wan.Set("enabled", "1")
	wan.SetList("track", []string{"198.18.100.1"})
	rule, _ := f.Add("rule", "")
	rule.Set("name", "Bob's line")
	want := "\nconfig wan 'wan'\n\toption enabled '1'\n\tlist track '198.18.100.1'\n\nconfig rule\n\toption name 'Bob'\\''s line'\n\n"
	if got := render(t, f); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := render(t, &File{}); got != "\n" {
		t.Errorf("empty file renders as %q, want a single newline like libuci", got)
	}
}

func TestRoundTrip(t *testing.T) {
	values := []string{"plain", "with space", "it's", "'", "''", `"dq"`, "a#b", "# c", `back\slash`, `\`, `\'`,
		"tab\there", "new\nline", "trailing newline\n", "\n", "crlf\r\n", "semi;colon", "x';y", "  padded  ", "ünï", "$(rm -rf /)"}
	f := &File{}
	named, _ := f.Add("wan", "wan_1")
	anon, _ := f.Add("rule", "")
	odd, _ := f.Add(`od'd#ty;pe"\`, "")
	for i, v := range values {
		named.Set(fmt.Sprintf("o%d", i), v)
		anon.SetList(fmt.Sprintf("l%d", i), []string{v, "", v})
	}
	named.SetList("all", values)
	odd.Options = append(odd.Options,
		&Option{Name: "empty_list", List: true},             // not written
		&Option{Name: "empty_option", Values: []string{""}}, // not written
		&Option{Name: "empty_item", List: true, Values: []string{""}})
	text := render(t, f)
	got := mustParse(t, text)
	// What should come back: everything but the empty list and empty option.
	odd.Options = odd.Options[2:]
	if dump(got) != dump(f) {
		t.Errorf("round trip changed the file:\n got %s\nwant %s\ntext:\n%s", dump(got), dump(f), text)
	}
	if again := render(t, got); again != text {
		t.Errorf("second write differs:\n%s\nfirst:\n%s", again, text)
	}
}

func TestWriteToErrors(t *testing.T) {
	tests := []struct {
		name string
		f    *File
	}{
		{"invalid type", &File{Sections: []*Section{{Type: "a b"}}}},
		{"invalid section name", &File{Sections: []*Section{{Type: "t", Name: "a-b"}}}},
		{"duplicate section", &File{Sections: []*Section{{Type: "t", Name: "a"}, {Type: "u", Name: "a"}}}},
		{"invalid option name", &File{Sections: []*Section{{Type: "t", Options: []*Option{{Name: "a.b", Values: []string{"x"}}}}}}},
		{"duplicate option", &File{Sections: []*Section{{Type: "t", Options: []*Option{{Name: "a", Values: []string{"x"}}, {Name: "a", List: true, Values: []string{"y"}}}}}}},
		{"option with two values", &File{Sections: []*Section{{Type: "t", Options: []*Option{{Name: "a", Values: []string{"x", "y"}}}}}}},
		{"option without value", &File{Sections: []*Section{{Type: "t", Options: []*Option{{Name: "a"}}}}}},
		{"NUL in value", &File{Sections: []*Section{{Type: "t", Options: []*Option{{Name: "a", Values: []string{"x\x00"}}}}}}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if n, err := tt.f.WriteTo(&b); err == nil || n != 0 || b.Len() != 0 {
			t.Errorf("%s: WriteTo = %d, %v, wrote %q; want an error and nothing written", tt.name, n, err, b.String())
		}
	}
}

func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

func dirEntries(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wanlb")
	f := mustParse(t, "config wan wan\noption label 'Bob'\\''s line'\n")

	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644&^umask() {
		t.Errorf("new file mode %v, want 0644 less umask", fi.Mode())
	}
	got, err := ReadFile(path)
	if err != nil || dump(got) != dump(f) {
		t.Fatalf("ReadFile = %v, %v; want %s", got, err, dump(f))
	}

	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f.Sections[0].Set("label", "changed")
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after replace %v, want 0600 kept", fi.Mode())
	}
	if b, _ := os.ReadFile(path); string(b) != "\nconfig wan 'wan'\n\toption label 'changed'\n\n" {
		t.Errorf("content %q", b)
	}

	// A file that cannot be written leaves the old content, and no temp file.
	bad := &File{Sections: []*Section{{Type: "bad type"}}}
	if err := WriteFile(path, bad); err == nil {
		t.Error("WriteFile(invalid) succeeded")
	}
	if err := WriteFile(filepath.Join(dir, "new"), bad); err == nil {
		t.Error("WriteFile(invalid, new path) succeeded")
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "changed") {
		t.Errorf("failed write changed the file: %q", b)
	}
	if got := dirEntries(t, dir); got != "wanlb" {
		t.Errorf("directory holds %q, want only wanlb", got)
	}

	// A symlink is kept and its target replaced, as libuci does.
	if err := os.Symlink("wanlb", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	f.Sections[0].Set("label", "via link")
	if err := WriteFile(filepath.Join(dir, "link"), f); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "link")); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("symlink replaced by a file")
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "via link") {
		t.Errorf("link target not updated: %q", b)
	}

	// A dangling symlink: its target is created, the link kept.
	if err := os.Symlink("created", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "dangling"), f); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(filepath.Join(dir, "created")); err != nil || dump(got) != dump(f) {
		t.Errorf("dangling link target: %v, %v", got, err)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "dangling")); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("dangling symlink replaced by a file")
	}

	// A missing directory fails cleanly.
	gone := filepath.Join(dir, "gone")
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(gone, "x", "y"), f); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	if got := dirEntries(t, gone); got != "" {
		t.Errorf("left %q behind", got)
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadFile(missing) succeeded")
	}
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadFile(dir) error = %v", err)
	}
	path := filepath.Join(dir, "broken")
	os.WriteFile(path, []byte("config t\noption a 'b\n"), 0o644)
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path+": line 2: unterminated quoted string") {
		t.Errorf("ReadFile(broken) error = %v", err)
	}
}

// WriteFile and ReadFile wait for a lock held the way libuci holds it.
func TestLocking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wanlb")
	f := mustParse(t, "config t\n")
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct {
		name string
		run  func() error
	}{
		{"WriteFile", func() error { return WriteFile(path, f) }},
		{"ReadFile", func() error { _, err := ReadFile(path); return err }},
	} {
		holder, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- op.run() }()
		select {
		case err := <-done:
			t.Errorf("%s finished (%v) while another process held the lock", op.name, err)
		case <-time.After(100 * time.Millisecond):
		}
		holder.Close() // releases the lock
		if err := <-done; err != nil {
			t.Errorf("%s: %v", op.name, err)
		}
	}
}

// Concurrent writers and readers: every read sees one complete version.
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wanlb")
	const writers, rounds = 8, 15
	versions := map[string]bool{}
	files := make([]*File, writers)
	for w := range files {
		f := &File{}
		for i := 0; i < 200; i++ { // large enough that a torn file would show
			s, _ := f.Add("rule", fmt.Sprintf("w%d_r%d", w, i))
			s.Set("writer", fmt.Sprint(w))
			s.SetList("pad", []string{strings.Repeat("x", 50), "it's"})
		}
		files[w] = f
		versions[dump(f)] = true
	}
	if err := WriteFile(path, files[0]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readErr error
	var readers sync.WaitGroup
	readers.Add(1)
	reads := 0
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			f, err := ReadFile(path)
			if err == nil && !versions[dump(f)] {
				err = fmt.Errorf("read a file that no writer wrote")
			}
			if err != nil {
				readErr = err
				return
			}
			reads++
		}
	}()
	errs := make(chan error, writers*rounds)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				errs <- WriteFile(path, files[w])
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if readErr != nil {
		t.Fatal(readErr)
	}
	if got := dirEntries(t, filepath.Dir(path)); got != "wanlb" {
		t.Errorf("directory holds %q after concurrent writes", got)
	}
	t.Logf("%d writes, %d consistent reads", writers*rounds, reads)
}
