package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/wanlb/wanlb/internal/lab"
)

const stateFile = "state.json"

// DefaultLoss is the loss percentage of the fault "loss" without a value.
const DefaultLoss = 50

// State is what a running demo writes to StateDir/state.json so that Break,
// Heal and Status in other processes find it.
type State struct {
	PID        int    `json:"pid"`
	Prefix     string `json:"prefix"`
	ISPs       int    `json:"isps"`
	Bandwidths []int  `json:"bandwidths_mbit"`
	Router     string `json:"router_ns"`
	Wanlb      string `json:"wanlb"`
	ConfigDir  string `json:"config_dir"`
	RunDir     string `json:"run_dir"`
}

// UsageError is a bad command line: an unknown subcommand, fault or ISP.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

func (s State) write(dir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, stateFile))
}

// ReadState reads the state of the demo running with dir as its StateDir.
// It fails when no demo is running there.
func ReadState(dir string) (State, error) {
	var s State
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if os.IsNotExist(err) {
		return s, fmt.Errorf("no demo is running (no %s); start one with `make demo`", filepath.Join(dir, stateFile))
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	if s.PID <= 0 || syscall.Kill(s.PID, 0) != nil {
		return s, fmt.Errorf("no demo is running (the one in %s, pid %d, is gone); start one with `make demo`", dir, s.PID)
	}
	return s, nil
}

// ParseISP parses "isp2" or "2".
func ParseISP(s string) (int, error) {
	k, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(s), "isp"))
	if err != nil || k < 1 {
		return 0, UsageError{fmt.Sprintf("bad ISP %q: want isp1, isp2, ...", s)}
	}
	return k, nil
}

// attach checks k against the running demo and returns its lab.
func attach(dir string, k int) (*lab.Lab, State, error) {
	s, err := ReadState(dir)
	if err != nil {
		return nil, s, err
	}
	if k < 1 || k > s.ISPs {
		return nil, s, UsageError{fmt.Sprintf("no ISP %d: the demo has isp1 to isp%d", k, s.ISPs)}
	}
	l, err := lab.Attach(s.Prefix, s.ISPs)
	return l, s, err
}

// Break injects fault into ISP k of the demo running in dir: "carrier"
// (cable unplugged), "blackhole" (drops everything, link stays up) or
// "loss[=PCT]" (random loss each way, DefaultLoss percent if no PCT).
func Break(dir string, k int, fault string) error {
	name, arg, hasArg := strings.Cut(fault, "=")
	var apply func(l *lab.Lab) error
	switch {
	case name == "carrier" && !hasArg:
		apply = func(l *lab.Lab) error { return l.CarrierDown(k) }
	case name == "blackhole" && !hasArg:
		apply = func(l *lab.Lab) error { return l.Blackhole(k) }
	case name == "loss":
		pct := float64(DefaultLoss)
		if hasArg {
			var err error
			if pct, err = strconv.ParseFloat(strings.TrimSuffix(arg, "%"), 64); err != nil || !(pct > 0 && pct <= 100) {
				return UsageError{fmt.Sprintf("bad loss %q: want a percentage in (0, 100]", arg)}
			}
		}
		apply = func(l *lab.Lab) error { return l.Loss(k, pct) }
	default:
		return UsageError{fmt.Sprintf("unknown fault %q: want carrier, blackhole or loss[=PCT]", fault)}
	}
	l, _, err := attach(dir, k)
	if err != nil {
		return err
	}
	defer l.Close()
	return apply(l)
}

// Heal removes every fault from ISP k of the demo running in dir and puts
// its bandwidth limit back.
func Heal(dir string, k int) error {
	l, s, err := attach(dir, k)
	if err != nil {
		return err
	}
	defer l.Close()
	err = l.Heal(k)
	if k <= len(s.Bandwidths) {
		err = errors.Join(err, l.Bandwidth(k, s.Bandwidths[k-1]))
	}
	return err
}

// Status runs `wanlb status` (with args, e.g. --json) in the router
// namespace of the demo running in dir and returns its output.
func Status(dir string, args ...string) (string, error) {
	s, err := ReadState(dir)
	if err != nil {
		return "", err
	}
	l, err := lab.Attach(s.Prefix, s.ISPs)
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Exec(s.Router, s.Wanlb, append([]string{"--run-dir", s.RunDir, "status"}, args...)...)
}
