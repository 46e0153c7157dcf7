package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/daemon"
	"github.com/wanlb/wanlb/internal/dataplane"
	"github.com/wanlb/wanlb/internal/passive"
	"github.com/wanlb/wanlb/internal/prefix6"
)

// daemonCmd runs the daemon until SIGTERM or SIGINT (which remove wanlb's
// kernel state); SIGHUP reloads the config.
func daemonCmd(configDir, runDir string, env Env) int {
	// Routers have 64-256 MB. The daemon's live heap is a few MB; trading a
	// little GC CPU for half the default heap slack keeps it small. The
	// soft limit only makes the GC work harder near it, never fails.
	debug.SetGCPercent(50)
	debug.SetMemoryLimit(12 << 20)
	// One P: the daemon waits on sockets and timers and its work per
	// wakeup is tiny, but with more Ps every wakeup also wakes an idle
	// thread to look for more work (and the GC's sweeper yields between
	// spans), which with 4 WANs probed every second was about a quarter of
	// its CPU in the lab profile. Blocking system calls still run on
	// threads of their own, and a long computation is preempted after
	// 10 ms. GOMAXPROCS in the environment still decides.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	// Hidden, for profiling in the lab: a CPU profile of the whole run.
	if f, err := os.Create(os.Getenv("WANLB_CPUPROFILE")); err == nil {
		defer f.Close() // after StopCPUProfile has written the profile
		if pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	level := new(slog.LevelVar)
	// No timestamps: procd hands stderr to logd, which adds its own.
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	// The firewall backend is chosen once, at start (a change of
	// globals.backend takes effect on restart). A config that does not
	// load falls back to auto here; Run reports its problems.
	setting := "auto"
	if c, _, err := config.Load(configDir); err == nil && c != nil {
		setting = c.Globals.Backend
	}
	dp, closeFn, err := env.Kernel(setting)
	if err != nil {
		log.Error(err.Error())
		return ExitProblem
	}
	defer closeFn()
	log.Info("firewall backend: " + dp.Backend())
	// Passive detection reads the devices' packet counters, which both
	// firewall backends leave alike.
	k := daemon.Kernel{DataPlane: dp, Prefixes: prefix6.System{}, Counters: &passive.ProcNetDev{}}
	opts := daemon.Options{ConfigDir: configDir, RunDir: runDir, Log: log, Level: level, Version: Version}
	// On OpenWrt, netifd tells each WAN's device, gateway and DNS servers;
	// it is asked over the ubusd socket rpcd logins use.
	k.Netifd = ubusNetifd(opts.UbusSocket)
	if ct, err := dataplane.NewConntrack(); err != nil {
		log.Warn("conntrack unavailable, offline WANs keep their connections: " + err.Error())
	} else {
		defer ct.Close()
		k.Conntrack = ct
	}
	d := daemon.New(opts, k)

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			d.Reload()
		}
	}()
	if err := d.Run(ctx); err != nil {
		log.Error(err.Error())
		return ExitProblem
	}
	return ExitOK
}

// clientErr reports a failed request to the daemon.
func clientErr(env Env, runDir string, err error) int {
	switch {
	case errors.Is(err, daemon.ErrNotRunning):
		fmt.Fprintf(env.Stderr, "wanlb: %v (no answer on %s/%s)\n", err, runDir, daemon.SocketName)
	case errors.Is(err, os.ErrPermission):
		fmt.Fprintf(env.Stderr, "wanlb: %v (it is root's only: run wanlb as root)\n", err)
	default:
		fmt.Fprintf(env.Stderr, "wanlb: %v\n", err)
	}
	return ExitProblem
}

// reload asks the running daemon to re-read its config; a refused config
// prints its problems and exits 1, and the daemon keeps the old one.
func reload(runDir string, env Env) int {
	r, err := daemon.Client{RunDir: runDir}.Reload()
	if err != nil {
		return clientErr(env, runDir, err)
	}
	for _, p := range r.Problems {
		fmt.Fprintln(env.Stderr, p)
	}
	if !r.Applied {
		fmt.Fprintln(env.Stderr, "wanlb: config refused; the daemon keeps running on its last good config")
		return ExitProblem
	}
	return ExitOK
}

// hotplug forwards netifd's hotplug event (ifup, ifdown, ifupdate).
func hotplug(runDir, action, iface string, env Env) int {
	if err := (daemon.Client{RunDir: runDir}).Hotplug(action, iface); err != nil {
		return clientErr(env, runDir, err)
	}
	return ExitOK
}

func status(runDir string, asJSON bool, env Env) int {
	s, err := daemon.Client{RunDir: runDir}.Status()
	if err != nil {
		return clientErr(env, runDir, err)
	}
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(s)
		return ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAN\tSTATE\tROLE\tSHARE\tRTT\tLOSS\tSINCE\tDEVICE\tGATEWAY")
	for _, w := range s.WANs {
		role := "-"
		switch {
		case w.Active:
			role = "active"
		case w.Standby:
			role = "standby"
		}
		state := w.State
		if w.OfflineReason != "" {
			state += " (" + w.OfflineReason + ")" // why it went offline
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.1f ms\t%.0f%%\t%s\t%s\t%s\n", w.Label, state, role, w.Share, w.RTTms, w.LossPct,
			time.Since(w.Since).Round(time.Second), w.Device, w.Gateway)
		status6Row(tw, w)
	}
	tw.Flush()
	status6Notes(env.Stdout, s)
	if s.Backend != "" {
		fmt.Fprintf(env.Stdout, "firewall backend: %s\n", s.Backend)
	}
	for _, p := range s.Problems {
		fmt.Fprintln(env.Stderr, "config not applied: "+p)
	}
	return ExitOK
}
