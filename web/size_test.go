package web

import (
	"bytes"
	"compress/gzip"
	"io/fs"
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

// TestNoHTMLInjection: WAN labels and rule names are user text; the app
// builds its DOM with createElement and textContent only.
func TestNoHTMLInjection(t *testing.T) {
	js, err := fs.ReadFile(Files(), "app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if bytes.Contains(js, []byte(bad)) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
