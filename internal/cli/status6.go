package cli

import (
	"fmt"
	"io"

	"github.com/wanlb/wanlb/internal/daemon"
)

// status6Row prints the IPv6 side of w under it in `wanlb status`.
func status6Row(out io.Writer, w daemon.WANStatus) {
	v := w.IPv6
	if v == nil {
		return
	}
	role := "-"
	if v.Active {
		role = "active"
	}
	fmt.Fprintf(out, "  IPv6\t%s\t%s\t%.2f\t%.1f ms\t%.0f%%\t\t%s\t%s\n", v.State, role, v.Share, v.RTTms, v.LossPct, v.Device, v.Gateway)
}

// status6Notes prints why an IPv6 side is not balanced.
func status6Notes(out io.Writer, s daemon.Status) {
	for _, w := range s.WANs {
		if w.IPv6 != nil && w.IPv6.Note != "" {
			fmt.Fprintf(out, "%s: IPv6 not balanced: %s\n", w.Name, w.IPv6.Note)
		}
	}
}
