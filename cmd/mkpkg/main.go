// Command mkpkg builds wanlb's OpenWrt packages with the plain Go
// toolchain: an .ipk for opkg (OpenWrt 23.05/24.10, internal/ipk) and an .apk
// for apk-tools v3 (OpenWrt 25.12, internal/apk) per architecture, from one
// description (internal/pkgspec).
//
//	mkpkg version                  print the package version, from git
//	mkpkg all [flags]              build the binaries and both packages per architecture
//	mkpkg package [flags]          package one architecture from a built binary
//	mkpkg footprint [flags]        binary and package sizes per architecture
//
// Output in -out (dist): wanlb_<version>_<arch>.ipk, apk/<arch>/wanlb-<version>.apk
// (OpenWrt's names), the binaries in ipk/<arch>/wanlb.
// `make packages` runs `mkpkg all`, `make footprint` runs `mkpkg footprint`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wanlb/wanlb/internal/apk"
	"github.com/wanlb/wanlb/internal/ipk"
	"github.com/wanlb/wanlb/internal/pkgspec"
)

const usage = `usage:
  mkpkg version
  mkpkg all [-out dist] [-files files] [-version V] [-arch a,b] [-go go]
  mkpkg package -arch A -binary FILE [-out dist] [-files files] [-version V]
  mkpkg footprint [-out dist] [-limit-arch mipsel_24kc] [-limit 3000000]
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "version":
		var v string
		if v, err = gitVersion(); err == nil {
			fmt.Println(v)
		}
	case "all":
		err = all(os.Args[2:])
	case "package":
		err = packageCmd(os.Args[2:])
	case "footprint":
		err = footprint(os.Args[2:])
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkpkg:", err)
		os.Exit(1)
	}
}

func git(args ...string) (string, error) {
	out, err := exec.Command("git", args...).Output()
	return strings.TrimSpace(string(out)), err
}

// gitVersion: X.Y.Z-rN from the last v* tag and the commits since
// (pkgspec.GitVersion).
func gitVersion() (string, error) {
	describe, err := git("describe", "--tags", "--long", "--abbrev=7", "--match", "v[0-9]*")
	if err != nil {
		describe = ""
	}
	countStr, _ := git("rev-list", "--count", "HEAD")
	count, _ := strconv.Atoi(countStr)
	return pkgspec.GitVersion(describe, count)
}

// binaryVersion is what the binary reports: the version and the commit.
func binaryVersion(v string) string {
	hash, _ := git("rev-parse", "--short=7", "HEAD")
	dirty := false
	if hash != "" {
		st, err := git("status", "--porcelain", "--untracked-files=no")
		dirty = err == nil && st != ""
	}
	return pkgspec.BinaryVersion(v, hash, dirty)
}

// modTime: SOURCE_DATE_EPOCH, else the last commit's time, else 0.
func modTime() time.Time {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		s, _ = git("log", "-1", "--format=%ct")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		n = 0
	}
	return time.Unix(n, 0).UTC()
}

func resolveVersion(v string) (string, error) {
	if v == "" {
		return gitVersion()
	}
	if !pkgspec.ValidVersion(v) {
		return "", fmt.Errorf("version %q: want X.Y.Z-rN (apk refuses other forms)", v)
	}
	return v, nil
}

func selectArches(list string) ([]pkgspec.Arch, error) {
	if list == "" {
		return pkgspec.Arches, nil
	}
	var out []pkgspec.Arch
	for _, n := range strings.Split(list, ",") {
		a, ok := pkgspec.ArchByName(strings.TrimSpace(n))
		if !ok {
			return nil, fmt.Errorf("unknown architecture %q", n)
		}
		out = append(out, a)
	}
	return out, nil
}

func all(args []string) error {
	fs := flag.NewFlagSet("all", flag.ExitOnError)
	out := fs.String("out", "dist", "output directory")
	files := fs.String("files", "files", "the router's files")
	version := fs.String("version", "", "package version X.Y.Z-rN (default: from git)")
	arches := fs.String("arch", "", "comma-separated architectures (default: all)")
	goCmd := fs.String("go", "go", "go command")
	fs.Parse(args)
	v, err := resolveVersion(*version)
	if err != nil {
		return err
	}
	list, err := selectArches(*arches)
	if err != nil {
		return err
	}
	bv := binaryVersion(v)
	fmt.Printf("wanlb %s\n", bv)
	for _, a := range list {
		bin := filepath.Join(*out, "ipk", a.Name, "wanlb")
		cmd := exec.Command(*goCmd, "build", "-trimpath", "-tags", pkgspec.BuildTags, "-gcflags=all="+pkgspec.GCFlags,
			"-ldflags", "-s -w -X 'github.com/wanlb/wanlb/internal/cli.Version="+bv+"'",
			"-o", bin, "./cmd/wanlb")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.GOARCH)
		cmd.Env = append(cmd.Env, a.Env...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		shown := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + a.GOARCH}
		shown = append(shown, a.Env...)
		for _, arg := range cmd.Args {
			if strings.ContainsAny(arg, " '\"") {
				arg = `"` + arg + `"`
			}
			shown = append(shown, arg)
		}
		fmt.Println(strings.Join(shown, " "))
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: go build: %w", a.Name, err)
		}
		if err := writePackages(a, v, bin, *files, *out); err != nil {
			return err
		}
	}
	return nil
}

func packageCmd(args []string) error {
	fs := flag.NewFlagSet("package", flag.ExitOnError)
	out := fs.String("out", "dist", "output directory")
	files := fs.String("files", "files", "the router's files")
	version := fs.String("version", "", "package version X.Y.Z-rN (default: from git)")
	archName := fs.String("arch", "", "architecture (OpenWrt name)")
	bin := fs.String("binary", "", "the wanlb binary for that architecture")
	fs.Parse(args)
	a, ok := pkgspec.ArchByName(*archName)
	if !ok || *bin == "" {
		return fmt.Errorf("need -arch (one of the known ones) and -binary")
	}
	v, err := resolveVersion(*version)
	if err != nil {
		return err
	}
	return writePackages(a, v, *bin, *files, *out)
}

// writePackages writes the .ipk and the .apk of one architecture, and
// removes older ones (they would confuse `opkg install dist/*`).
func writePackages(a pkgspec.Arch, version, binPath, filesDir, outDir string) error {
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return err
	}
	p, err := pkgspec.Wanlb(a, version, bin, filesDir, modTime())
	if err != nil {
		return err
	}
	var ipkBuf, apkBuf bytes.Buffer
	if err := ipk.BuildSpec(&ipkBuf, p); err != nil {
		return err
	}
	if err := apk.Build(&apkBuf, p); err != nil {
		return err
	}
	apkDir := filepath.Join(outDir, "apk", a.Name)
	old, _ := filepath.Glob(filepath.Join(outDir, "wanlb_*_"+a.Name+".ipk"))
	oldApk, _ := filepath.Glob(filepath.Join(apkDir, "wanlb-*.apk"))
	for _, o := range append(old, oldApk...) {
		os.Remove(o)
	}
	if err := os.MkdirAll(apkDir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{filepath.Join(outDir, ipk.FromSpec(p).Control.FileName()), ipkBuf.Bytes()},
		{filepath.Join(apkDir, apk.FileName(p)), apkBuf.Bytes()},
	} {
		if err := os.WriteFile(f.name, f.data, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d bytes (binary %d)\n", f.name, len(f.data), len(bin))
	}
	return nil
}

func size(pattern string) int64 {
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		return -1
	}
	st, err := os.Stat(m[0])
	if err != nil {
		return -1
	}
	return st.Size()
}

func footprint(args []string) error {
	fs := flag.NewFlagSet("footprint", flag.ExitOnError)
	out := fs.String("out", "dist", "directory of `make packages`")
	limitArch := fs.String("limit-arch", "mipsel_24kc", "architecture the size limit applies to")
	limit := fs.Int64("limit", 3_000_000, "size limit of that architecture's .ipk and .apk, bytes")
	fs.Parse(args)
	row := "%-26s %10s %10s %10s\n"
	fmt.Printf(row, "architecture", "binary B", ".ipk B", ".apk B")
	var worst int64 = -1
	for _, a := range pkgspec.Arches {
		binSize := size(filepath.Join(*out, "ipk", a.Name, "wanlb"))
		ipkSize := size(filepath.Join(*out, "wanlb_*_"+a.Name+".ipk"))
		apkSize := size(filepath.Join(*out, "apk", a.Name, "wanlb-*.apk"))
		if binSize < 0 || ipkSize < 0 || apkSize < 0 {
			return fmt.Errorf("%s: no binary, or not exactly one .ipk and one .apk in %s: run make packages", a.Name, *out)
		}
		if a.Name == *limitArch {
			worst = max(ipkSize, apkSize)
		}
		fmt.Printf(row, a.Name, strconv.FormatInt(binSize, 10), strconv.FormatInt(ipkSize, 10), strconv.FormatInt(apkSize, 10))
	}
	if worst < 0 {
		return fmt.Errorf("no packages for %s", *limitArch)
	}
	if worst > *limit {
		return fmt.Errorf("limit: %s packages at most %d bytes: the larger is %d bytes, %d over", *limitArch, *limit, worst, worst-*limit)
	}
	fmt.Printf("limit: %s packages at most %d bytes: the larger is %d bytes, %d to spare\n", *limitArch, *limit, worst, *limit-worst)
	return nil
}
