//go:build !linux

package probe

import "errors"

// errUnsupported: SO_MARK and SO_BINDTODEVICE are Linux-only, and wanlb
// runs on Linux routers; other platforms only build the package (and may
// probe with a zero Via).
var errUnsupported = errors.New("socket marks and device binding need Linux")

func markAndBind(_ int, via Via) error {
	if via.Mark != 0 || via.Device != "" {
		return errUnsupported
	}
	return nil
}
