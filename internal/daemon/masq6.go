package daemon

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/fwzone"
)

// In ipv6_mode 'translated' a LAN host's IPv6 connection may leave by any
// WAN, so each WAN must translate it (fw4's masq6 on its zone): without
// that, a connection balanced to a WAN other than the one whose prefix
// the host's address is from leaves with a foreign source and its answers
// never come back. A router upgraded from a version without IPv6 support,
// with two IPv6 uplinks and OpenWrt's stock firewall (no masq6), would
// lose about half of its new IPv6 connections. So the daemon balances a
// WAN's IPv6 side only when the firewall config shows that it is
// translated, and leaves it to the main table otherwise (as before wanlb
// knew IPv6), with a warning and a note in the status.
//
// No <config-dir>/firewall (a system without OpenWrt's firewall) means the
// admin set translation up some other way; `option ipv6 'on'` says so for
// one WAN (NPTv6, which wanlb cannot see).

// masq6Check remembers the firewall config last read, to re-read it only
// when it changed, and which WANs' IPv6 sides are left out and why.
type masq6Check struct {
	stamp  fileStamp
	zones  []fwzone.Zone
	err    error // reading the file; os.ErrNotExist: no OpenWrt firewall
	cfg    *config.Config
	skip   map[string]string // by WAN name
	logged map[string]string // the warnings given, by WAN name
}

// fileStamp tells a changed file from the one read before.
type fileStamp struct {
	mod   time.Time
	size  int64
	ino   uint64
	found bool
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	s := fileStamp{mod: fi.ModTime(), size: fi.Size(), found: true}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// refreshMasq6 re-reads <config-dir>/firewall when it or the config
// changed and reports whether the set of WANs whose IPv6 side is left out
// changed. A WAN newly left out is logged once as a warning.
func (d *Daemon) refreshMasq6() bool {
	m := &d.masq6
	path := filepath.Join(d.opts.ConfigDir, "firewall")
	st := stampOf(path)
	if m.skip != nil && st == m.stamp && m.cfg == d.cfg {
		return false
	}
	if st != m.stamp || m.skip == nil {
		m.stamp = st
		m.zones, m.err = fwzone.Read(path)
	}
	m.cfg = d.cfg
	skip := masq6Skips(d.cfg, m.zones, m.err)
	changed := m.skip == nil || !maps.Equal(skip, m.skip)
	m.skip = skip
	if m.logged == nil {
		m.logged = map[string]string{}
	}
	for wan, why := range skip {
		if m.logged[wan] != why {
			d.log.Warn(fmt.Sprintf("%s: IPv6 not balanced, left to the main table: %s", wan, why))
		}
	}
	for wan := range m.logged {
		if _, ok := skip[wan]; !ok {
			d.log.Info(fmt.Sprintf("%s: IPv6 balanced again: the firewall translates it", wan))
		}
	}
	m.logged = maps.Clone(skip)
	return changed
}

// masq6Skips decides, for every WAN with IPv6 on, whether its IPv6 side is
// left out of balancing, and why, from the firewall zones read (err: the
// read's error).
func masq6Skips(c *config.Config, zones []fwzone.Zone, err error) map[string]string {
	skip := map[string]string{}
	if c.Globals.IPv6Mode != config.IPv6Translated || errors.Is(err, os.ErrNotExist) {
		return skip
	}
	const fix = "add option masq6 '1' to that zone in /etc/config/firewall and reload the firewall " +
		"(or set option ipv6 'on' on this wan if NPTv6 translates it, or ipv6_mode 'routed')"
	for _, w := range c.WANs {
		if !w.Enabled || !w.IPv6 || w.IPv6Translated {
			continue
		}
		if err != nil {
			skip[w.Name] = fmt.Sprintf("the firewall config cannot be read, so IPv6 masquerading is unknown (%v)", err)
			continue
		}
		in := fwzone.Side6(zones, w.Interface6, w.Name)
		switch {
		case len(in) == 0:
			skip[w.Name] = fmt.Sprintf("interface '%s' (its IPv6 side) is in no firewall zone; put it in the WAN zone, %s", w.Interface6, fix)
		case !fwzone.AnyMasq6(in):
			skip[w.Name] = fmt.Sprintf("interface '%s' (its IPv6 side) is in firewall zone '%s' without IPv6 masquerading; %s", w.Interface6, in[0].Name, fix)
		}
	}
	return skip
}
