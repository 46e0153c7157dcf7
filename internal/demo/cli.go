package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
)

const usage = `usage: wanlb-lab [--state DIR] COMMAND   (as root)
  demo [--wanlb PATH]   run the live demo until Ctrl-C (UI on http://127.0.0.1:8088/)
  break ispN FAULT      FAULT: carrier, blackhole, loss[=PCT] (default 50)
  heal ispN             remove every fault from ispN
  status [--json]       wanlb status of the running demo
  --state DIR           the demo's state directory (default /run/wanlb-demo)
`

// Main is wanlb-lab's command line; args include the program name. It
// returns the exit code: 0 success, 1 failure, 2 bad command line.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wanlb-lab", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	stateDir := fs.String("state", DefaultStateDir, "")
	wanlb := fs.String("wanlb", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		return fail(stderr, UsageError{err.Error()})
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return fail(stderr, UsageError{"missing command"})
	}
	cmd, rest := rest[0], rest[1:]
	// --wanlb may also follow the command: wanlb-lab demo --wanlb PATH.
	if cmd == "demo" {
		if err := fs.Parse(rest); err != nil {
			return fail(stderr, UsageError{err.Error()})
		}
		rest = fs.Args()
	}
	nargs := map[string][]int{"demo": {0, 0}, "break": {2, 2}, "heal": {1, 1}, "status": {0, 1}}
	n, ok := nargs[cmd]
	if !ok {
		return fail(stderr, UsageError{fmt.Sprintf("unknown command %q", cmd)})
	}
	if len(rest) < n[0] || len(rest) > n[1] || (cmd == "status" && len(rest) == 1 && rest[0] != "--json") {
		return fail(stderr, UsageError{fmt.Sprintf("%s: wrong arguments %q", cmd, rest)})
	}

	var err error
	switch cmd {
	case "demo":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		err = Run(ctx, Options{StateDir: *stateDir, Wanlb: *wanlb, Command: args[0], Out: stdout})
	case "break", "heal":
		var k int
		if k, err = ParseISP(rest[0]); err == nil && cmd == "break" {
			err = Break(*stateDir, k, rest[1])
		} else if err == nil {
			err = Heal(*stateDir, k)
		}
		if err == nil {
			fmt.Fprintf(stdout, "%s %s: done; watch the UI or run `%s status`\n", cmd, rest[0], args[0])
		}
	case "status":
		var out string
		out, err = Status(*stateDir, rest...)
		fmt.Fprint(stdout, out)
	}
	return fail(stderr, err)
}

// fail prints err and maps it to an exit code.
func fail(stderr io.Writer, err error) int {
	var u UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "wanlb-lab: %v\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "wanlb-lab: %v\n", err)
		return 1
	}
}
