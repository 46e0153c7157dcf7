// Command mkipk builds wanlb's OpenWrt packages (see pkg/ipk).
//
//	mkipk version                  print the package version, from git
//	mkipk all [flags]              build the binaries and one .ipk per architecture
//	mkipk package [flags]          package one architecture from a built binary
//	mkipk footprint [flags]        binary and .ipk size per architecture
//
// `make ipk` runs `mkipk all`, `make footprint` runs `mkipk footprint`.
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

	"github.com/wanlb/wanlb/pkg/ipk"
)

const usage = `usage:
  mkipk version
  mkipk all [-out dist] [-files files] [-version V] [-arch a,b] [-go go]
  mkipk package -arch A -binary FILE [-out dist] [-files files] [-version V]
  mkipk footprint [-out dist] [-limit-arch mipsel_24kc] [-limit 3500000]
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "version":
		fmt.Println(gitVersion())
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
		fmt.Fprintln(os.Stderr, "mkipk:", err)
		os.Exit(1)
	}
}

func git(args ...string) (string, error) {
	out, err := exec.Command("git", args...).Output()
	return strings.TrimSpace(string(out)), err
}

// gitVersion: the last v* tag (v1.2.0-3-gabc1234 -> 1.2.0-3-gabc1234),
// else 0.0.0-<commits>-g<hash>; +dirty with uncommitted changes to
// tracked files.
func gitVersion() string {
	describe, err := git("describe", "--tags", "--long", "--abbrev=7", "--match", "v[0-9]*")
	if err != nil {
		describe = ""
	}
	hash, _ := git("rev-parse", "--short=7", "HEAD")
	countStr, _ := git("rev-list", "--count", "HEAD")
	count, _ := strconv.Atoi(countStr)
	dirty := false
	if hash != "" {
		st, err := git("status", "--porcelain", "--untracked-files=no")
		dirty = err == nil && st != ""
	}
	return ipk.SanitizeVersion(describe, count, hash, dirty)
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
		v = gitVersion()
	}
	if !ipk.ValidVersion(v) {
		return "", fmt.Errorf("version %q is not a valid opkg version", v)
	}
	return v, nil
}

func selectArches(list string) ([]ipk.Arch, error) {
	if list == "" {
		return ipk.Arches, nil
	}
	var out []ipk.Arch
	for _, n := range strings.Split(list, ",") {
		a, ok := ipk.ArchByName(strings.TrimSpace(n))
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
	version := fs.String("version", "", "package version (default: from git)")
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
	fmt.Printf("wanlb %s\n", v)
	for _, a := range list {
		bin := filepath.Join(*out, "ipk", a.Name, "wanlb")
		cmd := exec.Command(*goCmd, "build", "-trimpath", "-gcflags=all="+ipk.GCFlags,
			"-ldflags", "-s -w -X github.com/wanlb/wanlb/pkg/cli.Version="+v,
			"-o", bin, "./cmd/wanlb")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.GOARCH)
		cmd.Env = append(cmd.Env, a.Env...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		shown := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + a.GOARCH}
		shown = append(shown, a.Env...)
		for _, arg := range cmd.Args {
			if strings.ContainsAny(arg, " '\"") {
				arg = "'" + arg + "'"
			}
			shown = append(shown, arg)
		}
		fmt.Println(strings.Join(shown, " "))
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: go build: %w", a.Name, err)
		}
		if err := writeIPK(a, v, bin, *files, *out); err != nil {
			return err
		}
	}
	return nil
}

func packageCmd(args []string) error {
	fs := flag.NewFlagSet("package", flag.ExitOnError)
	out := fs.String("out", "dist", "output directory")
	files := fs.String("files", "files", "the router's files")
	version := fs.String("version", "", "package version (default: from git)")
	archName := fs.String("arch", "", "architecture (OpenWrt name)")
	bin := fs.String("binary", "", "the wanlb binary for that architecture")
	fs.Parse(args)
	a, ok := ipk.ArchByName(*archName)
	if !ok || *bin == "" {
		return fmt.Errorf("need -arch (one of the known ones) and -binary")
	}
	v, err := resolveVersion(*version)
	if err != nil {
		return err
	}
	return writeIPK(a, v, *bin, *files, *out)
}

func writeIPK(a ipk.Arch, version, binPath, filesDir, outDir string) error {
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return err
	}
	p, err := ipk.Wanlb(a, version, bin, filesDir, modTime())
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := ipk.Build(&buf, p); err != nil {
		return err
	}
	// Older packages of this architecture would confuse `opkg install dist/*`.
	old, _ := filepath.Glob(filepath.Join(outDir, "wanlb_*_"+a.Name+".ipk"))
	for _, o := range old {
		os.Remove(o)
	}
	name := filepath.Join(outDir, p.Control.FileName())
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: %d bytes (binary %d)\n", name, buf.Len(), len(bin))
	return nil
}

func footprint(args []string) error {
	fs := flag.NewFlagSet("footprint", flag.ExitOnError)
	out := fs.String("out", "dist", "directory of `make ipk`")
	limitArch := fs.String("limit-arch", "mipsel_24kc", "architecture the size target applies to")
	limit := fs.Int64("limit", 3_500_000, "size target of that architecture's .ipk, bytes")
	fs.Parse(args)
	mib := func(n int64) string { return fmt.Sprintf("%.2f", float64(n)/(1<<20)) }
	row := "%-26s %12s %10s %12s %10s\n"
	fmt.Printf(row, "architecture", "binary B", "MiB", ".ipk B", "MiB")
	var limitSize int64 = -1
	for _, a := range ipk.Arches {
		var binSize, ipkSize int64 = -1, -1
		if st, err := os.Stat(filepath.Join(*out, "ipk", a.Name, "wanlb")); err == nil {
			binSize = st.Size()
		}
		if m, _ := filepath.Glob(filepath.Join(*out, "wanlb_*_"+a.Name+".ipk")); len(m) == 1 {
			if st, err := os.Stat(m[0]); err == nil {
				ipkSize = st.Size()
			}
		}
		if binSize < 0 || ipkSize < 0 {
			return fmt.Errorf("%s: no binary or no single .ipk in %s: run make ipk", a.Name, *out)
		}
		if a.Name == *limitArch {
			limitSize = ipkSize
		}
		fmt.Printf(row, a.Name, strconv.FormatInt(binSize, 10), mib(binSize), strconv.FormatInt(ipkSize, 10), mib(ipkSize))
	}
	if limitSize < 0 {
		return fmt.Errorf("no package for %s", *limitArch)
	}
	verdict := "met"
	if limitSize > *limit {
		verdict = "NOT met"
	}
	fmt.Printf("target: %s .ipk at most %d bytes (%s MiB): %d bytes, %s\n",
		*limitArch, *limit, mib(*limit), limitSize, verdict)
	return nil
}
