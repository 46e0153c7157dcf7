package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/daemon"
	"github.com/wanlb/wanlb/internal/netifd"
)

// ubusNetifd asks OpenWrt's netifd over ubusd's socket (empty: the
// default); nil where there is no ubusd (not OpenWrt), decided once.
func ubusNetifd(socket string) func(ctx context.Context, name string) (netifd.Interface, error) {
	if netifd.Available(socket) {
		return netifd.Client{Socket: socket}.Status
	}
	return nil
}

// checkUI prints what the daemon would say about its web UI: listen
// addresses that face the internet (warnings) and a certificate it
// cannot use (an error: the UI would not start). It reports whether
// there was an error.
func checkUI(c *config.Config, env Env) bool {
	if !c.UI.Enabled {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ps := daemon.ListenWarnings(c.UI.Listen, daemon.WANAddrs(ctx, c, env.Netifd))
	_, tlsProblems := daemon.UITLS(c.UI)
	ps = append(ps, tlsProblems...)
	for _, p := range ps {
		fmt.Fprintln(env.Stderr, p)
	}
	return len(config.Errors(ps)) > 0
}
