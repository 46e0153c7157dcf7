// Command wanlb is the multi-WAN load balancer and failover daemon for
// OpenWrt. All logic lives under internal/; see internal/cli for the commands.
package main

import (
	"os"

	"github.com/wanlb/wanlb/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], cli.DefaultEnv()))
}
