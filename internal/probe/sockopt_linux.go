//go:build linux

package probe

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// markAndBind sets via's fwmark and device binding on the socket fd. Both
// are privileged; the error names the missing capability, since "operation
// not permitted" alone sends people hunting in the wrong place.
func markAndBind(fd int, via Via) error {
	if via.Mark != 0 {
		// int(uint32) wraps on 32-bit platforms; the kernel reads the same
		// 32 bits back as a u32.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(via.Mark)); err != nil {
			return markError(via.Mark, err)
		}
	}
	if via.Device != "" {
		if err := unix.BindToDevice(fd, via.Device); err != nil {
			return bindError(via.Device, err)
		}
	}
	return nil
}

func markError(mark uint32, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("set SO_MARK %#x: %w (needs CAP_NET_ADMIN)", mark, err)
	}
	return fmt.Errorf("set SO_MARK %#x: %w", mark, err)
}

func bindError(dev string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return fmt.Errorf("bind to device %s (SO_BINDTODEVICE): %w (needs CAP_NET_RAW)", dev, err)
	case errors.Is(err, unix.ENODEV):
		return fmt.Errorf("bind to device %s (SO_BINDTODEVICE): no such device", dev)
	}
	return fmt.Errorf("bind to device %s (SO_BINDTODEVICE): %w", dev, err)
}
