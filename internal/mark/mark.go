// Package mark owns wanlb's fwmark arithmetic: the mark mask (which bits of
// the packet and connection mark are wanlb's), the value of each WAN's mark
// index inside it, and the two reserved indexes. Config validation, the plan
// (which hands out indexes), the data plane (which writes them into rules)
// and the daemon (which flushes a WAN's connections by its mark) all ask
// this package, so the rules live in one place.
package mark

import (
	"fmt"
	"math/bits"
	"strconv"
)

// Mask is a run of contiguous bits of the 32-bit fwmark. Index i (1-based)
// is the value i shifted into the mask. The two highest indexes are
// reserved: all ones routes to an "unreachable" table, all ones minus one to
// a "blackhole" table; WANs get 1..MaxIndex.
type Mask uint32

const (
	// Default is the mask when the config sets none: 6 bits, room for 61
	// WANs, clear of every neighbour below.
	Default Mask = 0x3f000000
	// Foreign are the fwmark bits other policy routers own: mwan3
	// (0x3f00), pbr and Tailscale (0xff0000).
	Foreign Mask = 0x00ffff00
	// MinBits: one WAN plus the two reserved marks need values 1..3.
	MinBits = 2
	// MaxBits keeps indexes at most 255, so routing table ids and ip rule
	// priorities stay inside wanlb's ranges.
	MaxBits = 8
)

// Parse reads a mask such as "0x3f000000" and checks it (see Validate).
func Parse(s string) (Mask, error) {
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("must be a 32-bit number such as %#x", uint32(Default))
	}
	m := Mask(n)
	return m, m.Validate()
}

// Validate checks that m is one run of MinBits to MaxBits bits clear of the
// bits other policy routers use.
func (m Mask) Validate() error {
	if m == 0 {
		return fmt.Errorf("must not be zero")
	}
	if s := m.allOnes(); s&(s+1) != 0 {
		return fmt.Errorf("must be one contiguous run of bits")
	}
	if n := m.Bits(); n < MinBits || n > MaxBits {
		return fmt.Errorf("must have between %d and %d bits", MinBits, MaxBits)
	}
	if m&Foreign != 0 {
		return fmt.Errorf("overlaps marks used by mwan3 (0x3f00), pbr or Tailscale (0xff0000)")
	}
	return nil
}

// Bits is the number of bits in the mask.
func (m Mask) Bits() int { return bits.OnesCount32(uint32(m)) }

func (m Mask) shift() int { return bits.TrailingZeros32(uint32(m)) }

func (m Mask) allOnes() uint32 { return uint32(m) >> m.shift() }

// Value is the fwmark of index i.
func (m Mask) Value(i uint32) uint32 { return i << m.shift() & uint32(m) }

// Index is the index a fwmark carries inside the mask (0: none).
func (m Mask) Index(v uint32) uint32 { return v & uint32(m) >> m.shift() }

// Unreachable and Blackhole are the reserved indexes.
func (m Mask) Unreachable() uint32 { return m.allOnes() }

// Blackhole is the index whose table drops silently.
func (m Mask) Blackhole() uint32 { return m.allOnes() - 1 }

// MaxIndex is the highest index a WAN can get (0 for an invalid mask with
// fewer than MinBits bits).
func (m Mask) MaxIndex() uint32 {
	if m.Bits() < MinBits {
		return 0
	}
	return m.allOnes() - 2
}

// MaxWANs is how many WANs the mask has room for.
func (m Mask) MaxWANs() int { return int(m.MaxIndex()) }

// IsWAN reports whether i is an index a WAN can hold.
func (m Mask) IsWAN(i uint32) bool { return i >= 1 && i <= m.MaxIndex() }

// String prints the mask in hex, as the config writes it.
func (m Mask) String() string { return fmt.Sprintf("%#x", uint32(m)) }
