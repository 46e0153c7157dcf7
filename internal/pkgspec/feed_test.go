package pkgspec

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// golangPackageFiles picks, from the files of an OpenWrt build directory
// (paths as "./a/b", as `find ./` prints them), those golang-package.mk
// copies into its GOPATH before `go install` (the configure step of the
// packages feed's lang/golang/golang-build.sh): Go and C sources,
// testdata, go.mod/go.sum/go.work, and whatever matches one of the
// GO_PKG_INSTALL_EXTRA patterns (grep regexps).
func golangPackageFiles(files, extra []string) ([]string, error) {
	code := regexp.MustCompile(`\.(c|cc|cpp|go|h|hh|hpp|proto|s)$`)
	gomod := regexp.MustCompile(`/go\.(mod|sum|work)$`)
	var pats []*regexp.Regexp
	for _, p := range extra {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, err
		}
		pats = append(pats, re)
	}
	var out []string
	for _, f := range files {
		keep := code.MatchString(f) || strings.Contains(f, "/testdata/") || gomod.MatchString(f)
		for _, re := range pats {
			keep = keep || re.MatchString(f)
		}
		if keep {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out, nil
}

// The SDK feed builds today's tree: prepare.sh copies it, the files
// golang-package.mk would take from the copy build cmd/wanlb (every
// package it imports, the embedded web UI), files/ is there for
// Package/wanlb/install, and version.sh gives the version `make packages`
// gives this commit.
func TestOpenWrtFeedBuildsToday(t *testing.T) {
	needHostShell(t) // prepare.sh and version.sh under busybox ash
	root := repoRoot(t)
	mk, err := os.ReadFile(filepath.Join(root, "openwrt/wanlb/Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^GO_PKG_INSTALL_EXTRA:=(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile sets no GO_PKG_INSTALL_EXTRA (the web UI would be missing)")
	}
	extra := strings.Fields(string(m[1]))
	bb, _ := exec.LookPath("busybox")

	build := filepath.Join(t.TempDir(), "build")
	if out, err := exec.Command(bb, "ash", filepath.Join(root, "openwrt/wanlb/prepare.sh"), root, build).CombinedOutput(); err != nil {
		t.Fatalf("prepare.sh: %v\n%s", err, out)
	}
	var files []string
	filepath.WalkDir(build, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(build, p)
			files = append(files, "./"+filepath.ToSlash(rel))
		}
		return err
	})
	picked, err := golangPackageFiles(files, extra)
	if err != nil {
		t.Fatal(err)
	}
	gopath := filepath.Join(t.TempDir(), "gopath")
	src := filepath.Join(gopath, "src/github.com/wanlb/wanlb")
	for _, f := range picked {
		data, err := os.ReadFile(filepath.Join(build, f))
		if err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(src, f)
		os.MkdirAll(filepath.Dir(dest), 0o755)
		if err := os.WriteFile(dest, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Offline, from the module cache the repository's own build filled.
	cmd := exec.Command("go", "build", "-trimpath", "-tags", BuildTags, "-gcflags=all="+GCFlags, "-ldflags", "-s -w", "-o", filepath.Join(t.TempDir(), "wanlb"), "./cmd/wanlb")
	cmd.Dir = src
	// For the host: under `make qemu` the test's own GOARCH is set, but
	// whether the tree builds does not depend on it, and the host's
	// build cache makes this quick.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GOARCH=") && !strings.HasPrefix(e, "GOMIPS=") && !strings.HasPrefix(e, "GOARM=") && !strings.HasPrefix(e, "GOOS=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "GOFLAGS=-mod=readonly", "GOPROXY=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the tree the SDK would build does not build: %v\n%s", err, out)
	}

	// files/ as in the repository (Package/wanlb/install takes them from
	// $(PKG_BUILD_DIR)/files).
	router, err := RouterFiles(filepath.Join(root, "files"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range router {
		if got, err := os.ReadFile(filepath.Join(build, "files", f.Name)); err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("files%s not copied as it is (%v)", f.Name, err)
		}
	}

	// The version: what cmd/mkpkg derives from git for this commit.
	out, err := exec.Command(bb, "ash", filepath.Join(root, "openwrt/wanlb/version.sh"), root).Output()
	if err != nil {
		t.Fatalf("version.sh: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		t.Fatalf("version.sh printed %q", out)
	}
	git := func(args ...string) string {
		out, _ := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
		return strings.TrimSpace(string(out))
	}
	count, _ := strconv.Atoi(git("rev-list", "--count", "HEAD"))
	want, err := GitVersion(git("describe", "--tags", "--long", "--abbrev=7", "--match", "v[0-9]*"), count)
	if err != nil {
		t.Fatal(err)
	}
	if got := f[0] + "-r" + f[1]; got != want {
		t.Errorf("version.sh gives %s, make packages %s", got, want)
	}
}

// version.sh against tags in a scratch repository.
func TestFeedVersionScript(t *testing.T) {
	needHostShell(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	bb, _ := exec.LookPath("busybox")
	script := filepath.Join(repoRoot(t), "openwrt/wanlb/version.sh")
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	version := func() string {
		t.Helper()
		out, err := exec.Command(bb, "ash", script, dir).Output()
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(out))
		return f[0] + "-r" + f[1]
	}
	if out, _ := exec.Command(bb, "ash", script, dir).Output(); strings.TrimSpace(string(out)) != "0.0.0 0 unknown" {
		t.Errorf("not a checkout: %q", out)
	}
	run("init", "-q")
	for i, step := range []struct{ tag, want string }{
		{"", "0.0.0-r1"},
		{"v1.2", "1.2.0-r1"},
		{"", "1.2.0-r2"},
		{"v1.3.0-rc1", "1.3.0-r1"},
		{"", "1.3.0-r2"},
		{"v2.10.7", "2.10.7-r1"},
	} {
		run("commit", "-q", "--allow-empty", "-m", strconv.Itoa(i))
		if step.tag != "" {
			run("tag", step.tag)
		}
		if got := version(); got != step.want {
			t.Errorf("step %d (tag %q): %s, want %s", i, step.tag, got, step.want)
		}
	}
}
