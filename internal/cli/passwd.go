package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/daemon"
	"github.com/wanlb/wanlb/internal/uciconf"
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
	store := config.Store{Dir: configDir, Reload: func(context.Context) error {
		if _, err := (daemon.Client{RunDir: runDir}).Reload(); err != nil && !errors.Is(err, daemon.ErrNotRunning) {
			return err
		}
		return nil
	}}
	// Nothing half-applied: the store writes only a wholly valid file.
	_, err = store.Edit(context.Background(), func(f *uciconf.File) error {
		ui, err := config.Singleton(f, "ui")
		if err != nil {
			return err
		}
		return config.Encode(ui, struct {
			Hash string `uci:"password_hash"`
			Auth string `uci:"auth"`
		}{hash, "password"})
	})
	var bad *config.InvalidError
	switch {
	case errors.As(err, &bad):
		for _, p := range bad.Problems {
			fmt.Fprintln(env.Stderr, p)
		}
		fmt.Fprintln(env.Stderr, "wanlb passwd: the config has problems; fix them first (nothing was written)")
		return ExitProblem
	case config.IsReload(err):
		fmt.Fprintln(env.Stdout, "password set; the web UI now asks for it (users root or admin), ui.auth is 'password'")
		fmt.Fprintf(env.Stderr, "wanlb passwd: %v\n", err)
		return ExitOK
	case err != nil:
		fmt.Fprintf(env.Stderr, "wanlb passwd: %v\n", err)
		return ExitProblem
	}
	fmt.Fprintln(env.Stdout, "password set; the web UI now asks for it (users root or admin), ui.auth is 'password'")
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
