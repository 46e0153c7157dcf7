// Command wanlb-lab runs the live demo (`make demo`): three simulated ISPs
// in network namespaces behind the real wanlb daemon, its web UI on
// http://127.0.0.1:8088/, and faults to break and heal each ISP from
// another terminal. See internal/demo.
package main

import (
	"os"

	"github.com/wanlb/wanlb/internal/demo"
)

func main() {
	os.Exit(demo.Main(os.Args, os.Stdout, os.Stderr))
}
