// Package cli implements wanlb's command line: it parses arguments, runs
// one command and returns the process exit code. It is a client of the
// other packages; cmd/wanlb only calls Run.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/netifd"
	"github.com/wanlb/wanlb/internal/plan"
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// Exit codes.
const (
	ExitOK      = 0 // success
	ExitProblem = 1 // invalid config, or the command failed
	ExitUsage   = 2 // bad command line
)

const usage = `usage: wanlb [--config-dir DIR] [--run-dir DIR] COMMAND

commands:
  daemon            run in the foreground (procd supervises it)
  status [--json]   every WAN: state, active or standby, share, RTT, loss, since
  reload            make the running daemon re-read its config
  passwd            set the web UI password (ui.auth 'password')
  check             validate the config; exit 1 and one line per problem
  rules             print the kernel state wanlb would apply now, without applying
  flush             remove every route, rule, chain and table wanlb owns
  version           print the version

options:
  --config-dir DIR   UCI config directory (default /etc/config)
  --run-dir DIR      runtime directory (default /var/run/wanlb)
`

// Env is what a command may touch, replaceable in tests.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Kernel opens the data plane of the current network namespace with
	// the firewall backend the setting (globals.backend) selects.
	Kernel func(backend string) (*dataplane.DataPlane, func(), error)
	// Backend resolves globals.backend ("auto") to the backend to use.
	Backend func(setting string) (string, error)
	// BackendUsable reports why a backend cannot run here.
	BackendUsable func(backend string) error
	// Carrier reports whether a device is up with carrier.
	Carrier func(dev string) bool
	Now     func() time.Time
	// Netifd looks up a logical interface (nil: no netifd to ask).
	Netifd func(ctx context.Context, name string) (netifd.Interface, error)
}

// DefaultEnv is the real environment.
func DefaultEnv() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Kernel: dataplane.NewKernel, Backend: dataplane.ChooseBackend, BackendUsable: dataplane.BackendUsable, Carrier: sysfsCarrier, Now: time.Now,
		Netifd: ubusNetifd("")}
}

// Run runs the command line args (without the program name).
func Run(args []string, env Env) int {
	fs := flag.NewFlagSet("wanlb", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configDir := fs.String("config-dir", "/etc/config", "")
	runDir := fs.String("run-dir", "/var/run/wanlb", "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(env.Stderr, "wanlb: %v\n%s", err, usage)
		return ExitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return ExitUsage
	}
	cmd, cmdArgs := rest[0], rest[1:]
	if cmd == "status" && len(cmdArgs) == 1 && cmdArgs[0] == "--json" {
		return status(*runDir, true, env)
	}
	// Called by /etc/hotplug.d/iface/30-wanlb; not in the help.
	if cmd == "hotplug" && len(cmdArgs) == 2 {
		return hotplug(*runDir, cmdArgs[0], cmdArgs[1], env)
	}
	if len(cmdArgs) > 0 {
		fmt.Fprintf(env.Stderr, "wanlb %s: unexpected argument '%s'\n", cmd, cmdArgs[0])
		return ExitUsage
	}
	switch cmd {
	case "daemon":
		return daemonCmd(*configDir, *runDir, env)
	case "status":
		return status(*runDir, false, env)
	case "reload":
		return reload(*runDir, env)
	case "passwd":
		return passwd(*configDir, *runDir, env.Stdin, env)
	case "check":
		return check(*configDir, env)
	case "rules":
		return rules(*configDir, env)
	case "flush":
		return flush(*configDir, env)
	case "version":
		fmt.Fprintf(env.Stdout, "wanlb %s\n", Version)
		return ExitOK
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "wanlb: unknown command '%s'\n%s", cmd, usage)
	return ExitUsage
}

// load reads and validates the config, printing every problem.
func load(dir string, env Env) (*config.Config, bool) {
	c, problems, err := config.Load(dir)
	if err != nil {
		fmt.Fprintf(env.Stderr, "wanlb: %v\n", err)
		return nil, false
	}
	for _, p := range problems {
		fmt.Fprintln(env.Stderr, p)
	}
	return c, c != nil
}

func check(dir string, env Env) int {
	c, ok := load(dir, env)
	if !ok {
		return ExitProblem
	}
	var wans []string
	for _, w := range c.WANs {
		if w.Enabled {
			wans = append(wans, w.Name)
		}
	}
	// Warnings only: the firewall is someone else's config.
	for _, w := range append(firewallWarnings(dir, wans), masq6Warnings(dir, c)...) {
		fmt.Fprintln(env.Stderr, w)
	}
	// The backend the daemon would pick, checked without running any
	// firewall program.
	backend, err := env.Backend(c.Globals.Backend)
	if err == nil {
		err = env.BackendUsable(backend)
	}
	if err != nil {
		fmt.Fprintln(env.Stderr, config.Problem{Section: "globals", Option: "backend", Warning: true,
			Msg: fmt.Sprintf("the %s firewall backend cannot run here, the daemon would not start: %v", backend, err)})
	}
	if checkUI(c, env) {
		return ExitProblem
	}
	fmt.Fprintf(env.Stdout, "config ok: %d WANs, %d link backup entries, %d policy rules\n", len(c.WANs), len(c.LinkBackups), len(c.Rules))
	return ExitOK
}

// rules prints what an apply would do now, taking each WAN's device and
// gateway from the config and its carrier from the kernel, and assuming
// every WAN with carrier is online (this command sends no probes).
func rules(dir string, env Env) int {
	c, ok := load(dir, env)
	if !ok {
		return ExitProblem
	}
	states := map[string]plan.WANState{}
	for _, w := range c.WANs {
		if w.Device == "" {
			continue
		}
		up := env.Carrier(w.Device)
		st := plan.WANState{Device: w.Device, Gateway: w.Gateway, Carrier: up, Online: up}
		// The IPv6 side as far as the config says (gateway6).
		if w.IPv6 && w.Gateway6.IsValid() {
			st.Has6, st.Device6, st.Gateway6 = true, w.Device6, w.Gateway6
			if st.Device6 == "" {
				st.Device6 = w.Device
			}
		}
		states[w.Name] = st
	}
	p := plan.Compute(plan.Input{Config: c, States: states, Now: env.Now()})
	d, err := dataplane.Render(p)
	if err != nil {
		fmt.Fprintf(env.Stderr, "wanlb: %v\n", err)
		return ExitProblem
	}
	backend, err := env.Backend(c.Globals.Backend)
	if err != nil {
		fmt.Fprintf(env.Stderr, "wanlb: %v\n", err)
		return ExitProblem
	}
	var fw []byte
	if backend == dataplane.BackendNFTables {
		fw, err = dataplane.RenderNFT(p)
	} else {
		fw, err = dataplane.NewIPTablesRuleset(nil, nil).Render(p, d)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "wanlb: %v\n", err)
		return ExitProblem
	}
	w := env.Stdout
	fmt.Fprintf(w, "# firewall backend: %s (globals.backend '%s')\n", backend, c.Globals.Backend)
	fmt.Fprintln(w, "# WANs (device and gateway from the config; online = has carrier)")
	for _, x := range p.WANs {
		state := "standby"
		if x.Active {
			state = fmt.Sprintf("active, share %.2f", x.Share)
		} else if !x.Standby {
			state = "unused"
		}
		fmt.Fprintf(w, "# %-10s mark %d dev %s usable %v: %s\n", x.Name, x.Mark, x.Device, x.Usable, state)
		if x.Has6 {
			fmt.Fprintf(w, "# %-10s IPv6 dev %s via %s\n", "", x.Device6, x.Gateway6)
		}
	}
	for _, x := range c.WANs {
		if x.Device == "" {
			fmt.Fprintf(w, "# %-10s left out: no device in the config (netifd lookup comes with the daemon)\n", x.Name)
		}
	}
	fmt.Fprintln(w, "\n# ip rules")
	for _, r := range d.Rules {
		fmt.Fprintln(w, r)
	}
	fmt.Fprintln(w, "\n# routes")
	for _, r := range d.Routes {
		fmt.Fprintln(w, r)
	}
	if backend == dataplane.BackendNFTables {
		fmt.Fprintln(w, "\n# nft -f - (one transaction)")
	} else {
		fmt.Fprintln(w, "\n# iptables-restore --noflush")
	}
	w.Write(fw)
	return ExitOK
}

// flush removes wanlb's state with the backend the config selects (auto
// when the config cannot be read: a broken config must not keep stale
// rules in place).
func flush(dir string, env Env) int {
	setting := "auto"
	if c, _, err := config.Load(dir); err == nil && c != nil {
		setting = c.Globals.Backend
	}
	dp, closeFn, err := env.Kernel(setting)
	if err != nil {
		fmt.Fprintf(env.Stderr, "wanlb flush: %v\n", err)
		return ExitProblem
	}
	defer closeFn()
	if err := dp.Flush(); err != nil {
		fmt.Fprintf(env.Stderr, "wanlb flush: %v\n", err)
		return ExitProblem
	}
	return ExitOK
}

func sysfsCarrier(dev string) bool {
	if !config.ValidDevice(dev) {
		return false
	}
	b, err := os.ReadFile("/sys/class/net/" + dev + "/carrier")
	if err != nil {
		return false
	}
	return strings.TrimSpace(string(b)) == "1"
}
