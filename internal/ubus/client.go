// Package ubus is a small native client for OpenWrt's ubus message bus:
// it speaks ubusd's wire protocol over the unix socket (HELLO, LOOKUP,
// INVOKE, answered by DATA and STATUS messages carrying blob/blobmsg
// attributes, as libubus does) so wanlb calls rpcd and netifd without
// running the ubus CLI. Nothing it sends appears
// in another process's argv or environment, every call is bounded by a
// timeout and a message size cap, and a cancelled context ends a call at
// once. Replies decode as the ubus CLI prints them as JSON: tables are
// maps, int8 is a bool, other integers int64.
package ubus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

const (
	// DefaultSocket is where ubusd listens on OpenWrt (libubus's
	// UBUS_UNIX_SOCKET).
	DefaultSocket = "/var/run/ubus/ubus.sock"
	// DefaultTimeout bounds a whole Call (connect, lookup, invoke). Local
	// daemons answer in milliseconds; this trips only when one hangs.
	DefaultTimeout = 5 * time.Second
	// MaxMessage is ubusd's own limit on a message (UBUS_MAX_MSGLEN); a
	// peer announcing more is refused before anything is read.
	MaxMessage = 1 << 20
)

// ErrConnect wraps a failure to connect to ubusd's socket: ubusd is not
// running, or the socket is not where it was looked for.
var ErrConnect = errors.New("ubus: cannot connect to ubusd")

// Message types (ubusmsg.h, enum ubus_msg_type).
const (
	msgHello  = 0
	msgStatus = 1
	msgData   = 2
	msgLookup = 4
	msgInvoke = 5
)

// Message attributes (ubusmsg.h, enum ubus_msg_attr).
const (
	attrStatus  = 1
	attrObjPath = 2
	attrObjID   = 3
	attrMethod  = 4
	attrData    = 7
)

// msgHdrLen is struct ubus_msghdr: version, type, seq (be16), peer (be32).
const msgHdrLen = 8

// Client calls objects on one ubusd. The zero value uses DefaultSocket,
// DefaultTimeout and MaxMessage.
type Client struct {
	// Socket is ubusd's unix socket; empty means DefaultSocket.
	Socket string
	// Timeout bounds each Call and each Dial; zero or less means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxReply caps one received message in bytes; zero or less, or more
	// than MaxMessage, means MaxMessage.
	MaxReply int
}

// Call connects, invokes method on the object at path with args, and
// returns the reply (nil when the object sent no data). Failures the
// object or ubusd reported are a Status (test with errors.Is, e.g.
// StatusPermissionDenied); anything else means the bus could not be asked.
func (c Client) Call(ctx context.Context, path, method string, args Table) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	conn, err := c.Dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.Call(ctx, path, method, args)
}

func (c Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// Dial connects to ubusd and waits for its HELLO. The Conn is for one
// goroutine at a time; close it when done.
func (c Client) Dial(ctx context.Context) (*Conn, error) {
	socket := c.Socket
	if socket == "" {
		socket = DefaultSocket
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	maxMsg := c.MaxReply
	if maxMsg <= 0 || maxMsg > MaxMessage {
		maxMsg = MaxMessage
	}
	conn := &Conn{nc: nc, socket: socket, max: maxMsg, ids: map[string]uint32{}}
	err = conn.guard(ctx, func() error {
		m, err := conn.read()
		if err != nil {
			return err
		}
		if m.typ != msgHello {
			return fmt.Errorf("first message has type %d, not HELLO", m.typ)
		}
		return nil
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ubus: handshake with %s: %w", socket, err)
	}
	return conn, nil
}

// Conn is one connection to ubusd.
type Conn struct {
	nc     net.Conn
	socket string
	max    int
	seq    uint16
	ids    map[string]uint32 // object path -> id, from LOOKUP
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Call invokes method on the object at path (looked up once per Conn).
func (c *Conn) Call(ctx context.Context, path, method string, args Table) (map[string]any, error) {
	id, err := c.Lookup(ctx, path)
	if err != nil {
		return nil, err
	}
	return c.Invoke(ctx, id, path, method, args)
}

// Lookup returns the id of the object at path; a missing object is
// StatusNotFound (for rpcd's objects: rpcd is not running).
func (c *Conn) Lookup(ctx context.Context, path string) (uint32, error) {
	if id, ok := c.ids[path]; ok {
		return id, nil
	}
	var id uint32
	var found bool
	err := c.request(ctx, msgLookup, 0, appendString(nil, attrObjPath, path), func(attrs map[int][]byte) error {
		if v, ok := attrs[attrObjID]; ok && len(v) == 4 {
			id, found = binary.BigEndian.Uint32(v), true
		}
		return nil
	})
	if err == nil && !found {
		err = StatusNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("ubus: looking up %s: %w", path, err)
	}
	c.ids[path] = id
	return id, nil
}

// Invoke calls method on object id (named path in errors) with args. Of
// an object that answers with several DATA messages (rpcd's session list
// does), the first is returned.
func (c *Conn) Invoke(ctx context.Context, id uint32, path, method string, args Table) (map[string]any, error) {
	data, err := encodeTable(args)
	if err != nil {
		return nil, fmt.Errorf("ubus: call %s %s: encoding arguments: %w", path, method, err)
	}
	body := appendUint32(nil, attrObjID, id)
	body = appendString(body, attrMethod, method)
	body = appendAttr(body, attrData, false, data)
	var reply map[string]any
	err = c.request(ctx, msgInvoke, id, body, func(attrs map[int][]byte) error {
		d, ok := attrs[attrData]
		if !ok || reply != nil {
			return nil
		}
		var err error
		reply, err = decodeTable(d, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ubus: call %s %s: %w", path, method, err)
	}
	return reply, nil
}

// request sends one message and reads until the STATUS answering it,
// handing each DATA answering it to onData. Messages for other sequence
// numbers are skipped.
func (c *Conn) request(ctx context.Context, typ int, peer uint32, body []byte, onData func(map[int][]byte) error) error {
	c.seq++
	seq := c.seq
	return c.guard(ctx, func() error {
		msg := make([]byte, msgHdrLen, msgHdrLen+blobHdrLen+len(body))
		msg[0], msg[1] = 0, byte(typ)
		binary.BigEndian.PutUint16(msg[2:], seq)
		binary.BigEndian.PutUint32(msg[4:], peer)
		msg = appendAttr(msg, 0, false, body)
		if _, err := c.nc.Write(msg); err != nil {
			return err
		}
		for {
			m, err := c.read()
			if err != nil {
				return err
			}
			if m.seq != seq || (m.typ != msgData && m.typ != msgStatus) {
				continue
			}
			attrs, err := parseAttrs(m.body)
			if err != nil {
				return fmt.Errorf("malformed reply: %w", err)
			}
			byID := make(map[int][]byte, len(attrs))
			for _, a := range attrs {
				byID[a.id] = a.data
			}
			if m.typ == msgData {
				if err := onData(byID); err != nil {
					return fmt.Errorf("malformed reply: %w", err)
				}
				continue
			}
			st, ok := byID[attrStatus]
			if !ok || len(st) != 4 {
				return errors.New("malformed reply: STATUS without a status")
			}
			if s := Status(binary.BigEndian.Uint32(st)); s != StatusOK {
				return s
			}
			return nil
		}
	})
}

// guard runs f with the connection's deadline set from ctx, and makes a
// cancelled ctx interrupt f's reads and writes. An I/O failure caused by
// ctx is reported as ctx's error (context.DeadlineExceeded at the timeout).
func (c *Conn) guard(ctx context.Context, f func() error) error {
	deadline, _ := ctx.Deadline() // zero: none
	if err := c.nc.SetDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	err := f()
	stop()
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return context.DeadlineExceeded
	}
	return err
}

type message struct {
	typ  int
	seq  uint16
	body []byte // the attributes inside the message's outer blob
}

// read reads one message, refusing one announced larger than c.max before
// reading its body.
func (c *Conn) read() (message, error) {
	var hdr [msgHdrLen + blobHdrLen]byte
	if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("ubusd closed the connection: %w", io.ErrUnexpectedEOF)
		}
		return message{}, err
	}
	if hdr[0] != 0 {
		return message{}, fmt.Errorf("message version %d, want 0", hdr[0])
	}
	n := int(binary.BigEndian.Uint32(hdr[msgHdrLen:]) & blobLenMask)
	if n < blobHdrLen {
		return message{}, fmt.Errorf("message length %d", n)
	}
	if n > c.max {
		return message{}, fmt.Errorf("message of %d bytes over the %d-byte limit", n, c.max)
	}
	body := make([]byte, n-blobHdrLen)
	if _, err := io.ReadFull(c.nc, body); err != nil {
		return message{}, err
	}
	return message{typ: int(hdr[1]), seq: binary.BigEndian.Uint16(hdr[2:]), body: body}, nil
}
