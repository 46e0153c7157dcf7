package passive

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Source reads the packet counters of every device.
type Source interface {
	Read() (map[string]Counters, error)
}

// ProcNetDev reads /proc/self/net/dev: the devices of the reading
// process's network namespace, all in one read.
type ProcNetDev struct {
	// Path overrides the file (tests); "" means /proc/self/net/dev.
	Path string
}

// Read implements Source.
func (p ProcNetDev) Read() (map[string]Counters, error) {
	path := p.Path
	if path == "" {
		path = "/proc/self/net/dev"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("passive: read counters: %w", err)
	}
	return ParseNetDev(b)
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
