// Command wanlb is the multi-WAN load balancer and failover daemon for
// OpenWrt. All logic lives under pkg/; see pkg/cli for the commands.
package main

import (
	"os"

	"github.com/wanlb/wanlb/pkg/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], cli.DefaultEnv()))
}
