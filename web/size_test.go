package web

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
)

// MaxGzipTotal keeps the UI small enough for a router's flash and a slow
// link: every file gzip-compressed, added up.
const MaxGzipTotal = 100 << 10

func TestFilesPresent(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "app.css"} {
		if _, err := fs.Stat(Files(), name); err != nil {
			t.Errorf("%s is not embedded: %v", name, err)
		}
	}
}

func TestGzipSize(t *testing.T) {
	total := 0
	err := fs.WalkDir(Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(Files(), path)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(raw)
		zw.Close()
		t.Logf("%-12s %7d bytes, %6d gzipped", path, len(raw), buf.Len())
		total += buf.Len()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("total %d bytes gzipped (limit %d)", total, MaxGzipTotal)
	if total > MaxGzipTotal {
		t.Errorf("the UI is %d bytes gzipped, over the limit of %d", total, MaxGzipTotal)
	}
}

// TestLocalAssetsOnly: the UI must work on a router without internet
// access, so index.html may load nothing from elsewhere.
func TestLocalAssetsOnly(t *testing.T) {
	index, err := fs.ReadFile(Files(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?i)\b(?:src|href|action)\s*=\s*["']([^"']*)["']`).FindAllStringSubmatch(string(index), -1)
	if len(refs) == 0 {
		t.Fatal("index.html references no assets")
	}
	for _, m := range refs {
		ref := m[1]
		switch {
		case strings.HasPrefix(ref, "data:"), strings.HasPrefix(ref, "#"):
			continue
		case strings.Contains(ref, "//"), strings.Contains(ref, ":"):
			t.Errorf("index.html references %q: only local assets are allowed", ref)
			continue
		}
		name := strings.TrimPrefix(strings.SplitN(strings.SplitN(ref, "?", 2)[0], "#", 2)[0], "/")
		if _, err := fs.Stat(Files(), name); err != nil {
			t.Errorf("index.html references %q, which is not embedded", ref)
		}
	}
	css, err := fs.ReadFile(Files(), "app.css")
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?i)@import|url\(\s*["']?(https?:)?//`).Match(css) {
		t.Error("app.css loads a remote resource")
	}
}

// scripts returns every JavaScript module of the UI by path.
func scripts(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		out[p], err = fs.ReadFile(Files(), p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 2 {
		t.Fatalf("only %d scripts embedded", len(out))
	}
	return out
}

// TestNoHTMLInjection: WAN labels and rule names are user text; the app
// builds its DOM with createElement and textContent only.
func TestNoHTMLInjection(t *testing.T) {
	for name, js := range scripts(t) {
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if bytes.Contains(js, []byte(bad)) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
}

// TestModuleImports: the modules import only each other, by relative
// path (no network, no build step), and every import resolves to an
// embedded file.
func TestModuleImports(t *testing.T) {
	importRe := regexp.MustCompile(`(?m)^\s*import\s[^;]*?from\s*'([^']+)';|\bimport\(`)
	n := 0
	for name, js := range scripts(t) {
		for _, m := range importRe.FindAllSubmatch(js, -1) {
			ref := string(m[1])
			if ref == "" {
				t.Errorf("%s uses a dynamic import", name)
				continue
			}
			n++
			if !strings.HasPrefix(ref, "./") && !strings.HasPrefix(ref, "../") {
				t.Errorf("%s imports %q: only relative paths to the UI's own modules", name, ref)
				continue
			}
			target := path.Join(path.Dir(name), ref)
			if _, ok := scripts(t)[target]; !ok {
				t.Errorf("%s imports %q, which is not embedded", name, ref)
			}
		}
	}
	if n == 0 {
		t.Error("no imports found: is the UI still split into modules?")
	}
}

// TestNoSchemaCopies: the pages take limits and defaults from GET
// /api/schema; numbers of the schema written into a script would drift.
func TestNoSchemaCopies(t *testing.T) {
	for name, js := range scripts(t) {
		for _, copied := range []string{"9999999", "60000", "MAX_WEIGHT", "'failover', trigger"} {
			if bytes.Contains(js, []byte(copied)) {
				t.Errorf("%s holds %q, a copy of the schema", name, copied)
			}
		}
	}
}
