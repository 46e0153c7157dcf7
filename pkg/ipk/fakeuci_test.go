package ipk

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/pkg/uciconf"
)

// TestMain lets this test binary stand in for OpenWrt's `uci` when it is
// started under that name (the shell script tests put a link called uci
// first in PATH). The config directory is $FAKE_UCI_DIR.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "uci" {
		os.Exit(fakeUCI(os.Args[1:], os.Getenv("FAKE_UCI_DIR"), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// fakeUCI implements the part of uci(1) the router scripts use: get, show,
// set, delete, commit and batch, with -q. Changes are written at once
// (commit does nothing), through pkg/uciconf.
func fakeUCI(args []string, dir string, stdin io.Reader, stdout, stderr io.Writer) int {
	quiet := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if args[0] == "-q" {
			quiet = true
		}
		args = args[1:]
	}
	fail := func(msg string) int {
		if !quiet {
			fmt.Fprintf(stderr, "uci: %s\n", msg)
		}
		return 1
	}
	if len(args) == 0 {
		return fail("no command")
	}
	if args[0] == "batch" {
		sc := bufio.NewScanner(stdin)
		rc := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			if r := fakeUCICmd(f, dir, stdout); r != "" {
				rc = 1
				if !quiet {
					fmt.Fprintf(stderr, "uci: %s\n", r)
				}
			}
		}
		return rc
	}
	if r := fakeUCICmd(args, dir, stdout); r != "" {
		return fail(r)
	}
	return 0
}

var anonRef = regexp.MustCompile(`^@([A-Za-z0-9_-]+)\[(-?\d+)\]$`)

func fakeUCICmd(args []string, dir string, stdout io.Writer) string {
	if len(args) < 2 {
		if len(args) == 1 && args[0] == "commit" {
			return ""
		}
		return "bad command"
	}
	cmd, ref := args[0], args[1]
	value, hasValue := "", false
	if i := strings.Index(ref, "="); i >= 0 {
		ref, value, hasValue = ref[:i], ref[i+1:], true
		value = strings.Trim(value, `'"`)
	}
	parts := strings.SplitN(ref, ".", 3)
	file := filepath.Join(dir, parts[0])
	f, err := uciconf.ReadFile(file)
	if err != nil {
		return "Entry not found"
	}
	var sec *uciconf.Section
	if len(parts) > 1 {
		sec = f.Section(parts[1])
	}
	save := func() string {
		if err := uciconf.WriteFile(file, f); err != nil {
			return err.Error()
		}
		return ""
	}
	switch cmd {
	case "commit":
		return ""
	case "get":
		if sec == nil {
			return "Entry not found"
		}
		if len(parts) == 2 {
			fmt.Fprintln(stdout, sec.Type)
			return ""
		}
		o, ok := sec.Get(parts[2])
		if !ok {
			return "Entry not found"
		}
		fmt.Fprintln(stdout, strings.Join(o.Values, " "))
		return ""
	case "show":
		for _, s := range f.Sections {
			if sec != nil && s != sec || sec == nil && len(parts) > 1 {
				continue
			}
			id := parts[0] + "." + f.ID(s)
			fmt.Fprintf(stdout, "%s=%s\n", id, s.Type)
			for _, o := range s.Options {
				var q []string
				for _, v := range o.Values {
					q = append(q, "'"+strings.ReplaceAll(v, "'", `'\''`)+"'")
				}
				fmt.Fprintf(stdout, "%s.%s=%s\n", id, o.Name, strings.Join(q, " "))
			}
		}
		if len(parts) > 1 && sec == nil {
			return "Entry not found"
		}
		return ""
	case "set":
		if !hasValue {
			return "set needs a value"
		}
		switch len(parts) {
		case 2:
			if sec != nil {
				sec.Type = value
			} else if anonRef.MatchString(parts[1]) {
				return "Invalid argument"
			} else if _, err := f.Add(value, parts[1]); err != nil {
				return err.Error()
			}
		case 3:
			if sec == nil {
				return "Invalid argument"
			}
			sec.Set(parts[2], value)
		default:
			return "Invalid argument"
		}
		return save()
	case "delete":
		if sec == nil {
			return "Entry not found"
		}
		if len(parts) == 2 {
			f.Remove(sec)
		} else {
			sec.Delete(parts[2])
		}
		return save()
	}
	return "unknown command " + strconv.Quote(cmd)
}
