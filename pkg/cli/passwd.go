package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wanlb/wanlb/pkg/auth"
	"github.com/wanlb/wanlb/pkg/config"
	"github.com/wanlb/wanlb/pkg/daemon"
	"github.com/wanlb/wanlb/pkg/uciconf"
)

// MinPasswordLength is the shortest web UI password passwd accepts.
const MinPasswordLength = 8

// passwd sets the web UI password: ui.password_hash gets a sha512-crypt
// hash and ui.auth becomes 'password'. From a terminal it asks twice
// without echo; from a pipe it reads one line.
func passwd(configDir, runDir string, stdin io.Reader, env Env) int {
	pw, err := readPassword(stdin, env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "wanlb passwd: %v\n", err)
		return ExitProblem
	}
	hash, err := auth.HashSHA512Crypt(pw)
	if err != nil {
		fmt.Fprintf(env.Stderr, "wanlb passwd: %v\n", err)
		return ExitProblem
	}
	path := filepath.Join(configDir, config.FileName)
	f, err := uciconf.ReadFile(path)
	if err != nil {
		fmt.Fprintf(env.Stderr, "wanlb passwd: %v\n", err)
		return ExitProblem
	}
	ui := f.Section("ui")
	if ui == nil || ui.Type != "ui" {
		if all := f.OfType("ui"); len(all) > 0 {
			ui = all[0]
		} else if ui, err = f.Add("ui", "ui"); err != nil {
			fmt.Fprintf(env.Stderr, "wanlb passwd: %v\n", err)
			return ExitProblem
		}
	}
	ui.Set("password_hash", hash)
	ui.Set("auth", "password")
	// Nothing half-applied: the whole file must still be valid.
	if c, problems := config.FromUCI(f); c == nil {
		for _, p := range config.Errors(problems) {
			fmt.Fprintln(env.Stderr, p)
		}
		fmt.Fprintln(env.Stderr, "wanlb passwd: the config has problems; fix them first (nothing was written)")
		return ExitProblem
	}
	if err := uciconf.WriteFile(path, f); err != nil {
		fmt.Fprintf(env.Stderr, "wanlb passwd: %v\n", err)
		return ExitProblem
	}
	fmt.Fprintln(env.Stdout, "password set; the web UI now asks for it (users root or admin), ui.auth is 'password'")
	if _, err := (daemon.Client{RunDir: runDir}).Reload(); err != nil && !errors.Is(err, daemon.ErrNotRunning) {
		fmt.Fprintf(env.Stderr, "wanlb passwd: reload: %v\n", err)
	}
	return ExitOK
}

// readPassword reads the new password: twice with echo off on a terminal,
// once from anything else.
func readPassword(stdin io.Reader, env Env) (string, error) {
	f, isFile := stdin.(*os.File)
	var term *unix.Termios
	if isFile {
		if t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			term = t
		}
	}
	r := bufio.NewReader(stdin)
	read := func(prompt string) (string, error) {
		if term != nil {
			fmt.Fprint(env.Stderr, prompt)
			noEcho := *term
			noEcho.Lflag &^= unix.ECHO
			unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &noEcho)
			defer func() {
				unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, term)
				fmt.Fprintln(env.Stderr)
			}()
		}
		line, err := r.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", fmt.Errorf("no password given")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	pw, err := read("New web UI password: ")
	if err != nil {
		return "", err
	}
	if len(pw) < MinPasswordLength {
		return "", fmt.Errorf("the password needs at least %d characters", MinPasswordLength)
	}
	if len(pw) > 256 {
		return "", fmt.Errorf("the password is longer than 256 characters")
	}
	if term != nil {
		again, err := read("Again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", fmt.Errorf("the passwords differ")
		}
	}
	return pw, nil
}
