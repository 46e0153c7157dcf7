package probe

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The capability a failure needs must be in the message, whatever the
// privileges of the test run.
func TestPrivilegeErrorsNameTheCapability(t *testing.T) {
	perm := os.NewSyscallError("setsockopt", unix.EPERM)
	for _, c := range []struct {
		err  error
		want string
	}{
		{markError(0x2000000, perm), "set SO_MARK 0x2000000: setsockopt: operation not permitted (needs CAP_NET_ADMIN)"},
		{bindError("wan2", perm), "bind to device wan2 (SO_BINDTODEVICE): setsockopt: operation not permitted (needs CAP_NET_RAW)"},
		{bindError("wan9", unix.ENODEV), "bind to device wan9 (SO_BINDTODEVICE): no such device"},
		{icmpError(Via{Mark: 0x2000000}, &net.OpError{Op: "listen", Net: "ip4:1", Err: markError(0x2000000, perm)}), "set SO_MARK 0x2000000: setsockopt: operation not permitted (needs CAP_NET_ADMIN)"},
		{icmpError(Via{}, &net.OpError{Op: "listen", Net: "ip4:icmp", Err: os.NewSyscallError("socket", unix.EPERM)}), "open raw ICMP socket: listen ip4:icmp: socket: operation not permitted (needs CAP_NET_RAW)"},
		{icmpError(Via{}, &net.OpError{Op: "write", Net: "ip4:icmp", Err: os.NewSyscallError("sendmsg", unix.EPERM)}), "local firewall"},
	} {
		if !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %q, want it to contain %q", c.err, c.want)
		}
	}
	if err := markError(1, perm); !errors.Is(err, unix.EPERM) {
		t.Errorf("%v does not wrap EPERM", err)
	}
}
