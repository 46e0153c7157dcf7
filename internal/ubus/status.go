package ubus

import "fmt"

// Status is a ubus call's outcome as ubusd or the called object reports
// it (ubusmsg.h, enum ubus_msg_status). Every value but StatusOK is an
// error; compare with errors.Is.
type Status uint32

// The statuses, in ubusmsg.h's order.
const (
	StatusOK Status = iota
	StatusInvalidCommand
	StatusInvalidArgument
	StatusMethodNotFound
	StatusNotFound
	StatusNoData
	StatusPermissionDenied
	StatusTimeout
	StatusNotSupported
	StatusUnknownError
	StatusConnectionFailed
	StatusNoMemory
	StatusParseError
	StatusSystemError
)

// statusText is libubus's ubus_strerror wording, so errors read like the
// ubus CLI's "Command failed: ..." lines.
var statusText = [...]string{
	"Success",
	"Invalid command",
	"Invalid argument",
	"Method not found",
	"Not found",
	"No response",
	"Permission denied",
	"Request timed out",
	"Operation not supported",
	"Unknown error",
	"Connection failed",
	"Out of memory",
	"Parsing message data failed",
	"System error",
}

func (s Status) Error() string {
	if int(s) < len(statusText) {
		return fmt.Sprintf("%s (ubus status %d)", statusText[s], uint32(s))
	}
	return fmt.Sprintf("ubus status %d", uint32(s))
}
