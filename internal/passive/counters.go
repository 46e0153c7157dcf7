package passive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Source reads the packet counters of every device.
type Source interface {
	Read() (map[string]Counters, error)
}

// ProcNetDev reads /proc/self/net/dev: the devices of the reading
// process's network namespace, all in one read. The file stays open and
// each Read is one pread from its start into the same buffer: a third of
// the system calls of opening it each time. Not safe for concurrent use.
type ProcNetDev struct {
	// Path overrides the file (tests); "" means /proc/self/net/dev.
	Path string
	f    *os.File
	buf  []byte
}

// Read implements Source.
func (p *ProcNetDev) Read() (map[string]Counters, error) {
	if p.f == nil {
		path := p.Path
		if path == "" {
			path = "/proc/self/net/dev"
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("passive: read counters: %w", err)
		}
		p.f, p.buf = f, make([]byte, 16<<10)
	}
	for {
		n, err := p.f.ReadAt(p.buf, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			p.f.Close()
			p.f = nil // open again next time
			return nil, fmt.Errorf("passive: read counters: %w", err)
		}
		if n < len(p.buf) {
			return ParseNetDev(p.buf[:n])
		}
		p.buf = make([]byte, 2*len(p.buf)) // many devices
	}
}

// ParseNetDev parses the text of /proc/net/dev: two header lines, then
// "name: rx_bytes rx_packets ... (8 receive fields) tx_bytes tx_packets ...".
func ParseNetDev(b []byte) (map[string]Counters, error) {
	out := map[string]Counters{}
	for i, line := range bytes.Split(b, []byte("\n")) {
		if i < 2 || len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		name, rest, ok := bytes.Cut(line, []byte(":"))
		f := bytes.Fields(rest)
		if !ok || len(f) < 10 {
			return nil, fmt.Errorf("passive: /proc/net/dev line %d: %q is not 'device: counters'", i+1, line)
		}
		rx, err1 := strconv.ParseUint(string(f[1]), 10, 64)
		tx, err2 := strconv.ParseUint(string(f[9]), 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("passive: /proc/net/dev line %d: packet counters %q %q are not numbers", i+1, f[1], f[9])
		}
		out[string(bytes.TrimSpace(name))] = Counters{Rx: rx, Tx: tx}
	}
	return out, nil
}
