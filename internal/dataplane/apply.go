// Package dataplane makes the kernel carry out a Plan: one routing table
// per WAN with its default route, ip rules from fwmarks to those tables,
// and mangle chains that mark each new connection with its WAN and keep
// the mark for the connection's life. It renders the whole desired state
// (Render, pure), then reconciles: ip rules and routes through netlink,
// iptables in one iptables-restore --noflush transaction. Applying the same
// Plan twice changes nothing.
package dataplane

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/wanlb/wanlb/internal/plan"
)

// Firewall is wanlb's access to iptables (one family), under the
// iptables Ruleset.
type Firewall interface {
	// Restore runs one iptables-restore --noflush transaction.
	Restore(data []byte) error
	// ListChains lists the chains of a table.
	ListChains(table string) ([]string, error)
	// EnsureJump makes sure builtin starts with the rule, inserting it
	// at the top if it is missing.
	EnsureJump(table, builtin string, rule []string) error
	// DeleteJump removes the rule from builtin; a missing rule is fine.
	DeleteJump(table, builtin string, rule []string) error
	// HasJump reports whether builtin holds the rule.
	HasJump(table, builtin string, rule []string) (bool, error)
}

// Routing is wanlb's access to ip rules and routes (both families).
type Routing interface {
	Rules() ([]IPRule, error)
	AddRule(IPRule) error
	DelRule(IPRule) error
	// Routes lists the routes of tables [TableBase, TableEnd).
	Routes() ([]Route, error)
	ReplaceRoute(Route) error
	DelRoute(Route) error
}

// Sysctl writes kernel settings, names as in sysctl(8).
type Sysctl interface {
	Set(name, value string) error
}

// DataPlane reconciles the kernel with plans. It is not safe for
// concurrent use: the daemon's state goroutine owns it.
type DataPlane struct {
	fw  Ruleset
	rt  Routing
	sys Sysctl

	lastFW []byte // the firewall transaction of the last successful apply
	// fullSync forces the next apply to read the kernel instead of
	// trusting lastFW: at start, after a failure, after a repair.
	fullSync bool
}

// New returns a DataPlane over the given kernel interfaces.
func New(fw Ruleset, rt Routing, sys Sysctl) *DataPlane {
	return &DataPlane{fw: fw, rt: rt, sys: sys, fullSync: true}
}

// Backend names the firewall backend in use.
func (d *DataPlane) Backend() string { return d.fw.Backend() }

// Changes delivers a value soon after someone else changed the firewall,
// when the backend can tell (nftables); nil otherwise.
func (d *DataPlane) Changes() <-chan struct{} {
	if w, ok := d.fw.(Watcher); ok {
		return w.Changes()
	}
	return nil
}

// Result counts what an apply changed.
type Result struct {
	RulesAdded, RulesDeleted  int
	RoutesChanged, RoutesGone int
	Restored                  bool // a firewall transaction ran
	Desired                   *Desired
}

// Changed reports whether the apply touched the kernel.
func (r Result) Changed() bool {
	return r.RulesAdded+r.RulesDeleted+r.RoutesChanged+r.RoutesGone > 0 || r.Restored
}

// RequestFullSync makes the next Apply re-read and rewrite everything, for
// when someone else may have changed wanlb's state.
func (d *DataPlane) RequestFullSync() { d.fullSync = true }

// Apply reconciles the kernel with p. On error the kernel may hold a mix
// of the old and new state; the next Apply does a full sync.
func (d *DataPlane) Apply(p *plan.Plan) (Result, error) {
	want, err := Render(p)
	if err != nil {
		return Result{}, fmt.Errorf("render: %w", err)
	}
	if want.Firewall, err = d.fw.Render(p, want); err != nil {
		return Result{}, fmt.Errorf("render %s: %w", d.fw.Backend(), err)
	}
	if !p.Enabled {
		return Result{Desired: want}, d.Flush()
	}
	res, err := d.apply(want)
	res.Desired = want
	if err != nil {
		d.fullSync = true
		return res, err
	}
	d.fullSync = false
	return res, nil
}

func (d *DataPlane) apply(want *Desired) (Result, error) {
	var res Result
	// Replies are judged by their mark's table under strict rp_filter
	// (wg-quick does the same); without it every connection balanced to
	// a second WAN fails.
	if err := d.sys.Set("net.ipv4.conf.all.src_valid_mark", "1"); err != nil {
		return res, fmt.Errorf("enable src_valid_mark: %w", err)
	}
	// Tables and rules first, so a mark is never set that routes nowhere.
	if err := d.syncRoutes(want.Routes, &res); err != nil {
		return res, err
	}
	if err := d.syncRules(want.Rules, &res); err != nil {
		return res, err
	}
	if err := d.syncFirewall(want, &res); err != nil {
		return res, err
	}
	return res, nil
}

func (d *DataPlane) syncRoutes(want []Route, res *Result) error {
	have, err := d.rt.Routes()
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, r := range want {
		if !slices.Contains(have, r) {
			if err := d.rt.ReplaceRoute(r); err != nil {
				return fmt.Errorf("route %s: %w", r, err)
			}
			res.RoutesChanged++
		}
	}
	var errs []error
	for _, r := range have {
		if !slices.ContainsFunc(want, func(w Route) bool { return w.Table == r.Table && w.V6 == r.V6 }) {
			if err := d.rt.DelRoute(r); err != nil {
				errs = append(errs, fmt.Errorf("delete route %s: %w", r, err))
				continue
			}
			res.RoutesGone++
		}
	}
	return errors.Join(errs...)
}

func (d *DataPlane) syncRules(want []IPRule, res *Result) error {
	have, err := d.rt.Rules()
	if err != nil {
		return fmt.Errorf("list ip rules: %w", err)
	}
	// Add before delete: there is never a moment without a rule for a
	// mark that is in use.
	for _, r := range want {
		if !slices.Contains(have, r) {
			if err := d.rt.AddRule(r); err != nil {
				return fmt.Errorf("ip rule %s: %w", r, err)
			}
			res.RulesAdded++
		}
	}
	var errs []error
	for _, r := range have {
		if !slices.Contains(want, r) {
			if err := d.rt.DelRule(r); err != nil {
				errs = append(errs, fmt.Errorf("delete ip rule %s: %w", r, err))
				continue
			}
			res.RulesDeleted++
		}
	}
	return errors.Join(errs...)
}

func (d *DataPlane) syncFirewall(want *Desired, res *Result) error {
	if !d.fullSync && bytes.Equal(want.Firewall, d.lastFW) {
		return nil
	}
	if err := d.fw.Sync(want.Firewall, d.fullSync); err != nil {
		return err
	}
	res.Restored = true
	d.lastFW = want.Firewall
	return nil
}

// Flush removes every chain, jump, table, ip rule and route wanlb owns,
// found by name, prefix, priority range and table range, and nothing else.
func (d *DataPlane) Flush() error {
	var errs []error
	if err := d.fw.Flush(); err != nil {
		errs = append(errs, err)
	}
	rules, err := d.rt.Rules()
	if err != nil {
		errs = append(errs, fmt.Errorf("list ip rules: %w", err))
	}
	for _, r := range rules {
		if err := d.rt.DelRule(r); err != nil {
			errs = append(errs, fmt.Errorf("delete ip rule %s: %w", r, err))
		}
	}
	routes, err := d.rt.Routes()
	if err != nil {
		errs = append(errs, fmt.Errorf("list routes: %w", err))
	}
	for _, r := range routes {
		if err := d.rt.DelRoute(r); err != nil {
			errs = append(errs, fmt.Errorf("delete route %s: %w", r, err))
		}
	}
	d.lastFW, d.fullSync = nil, true
	return errors.Join(errs...)
}

// Intact reports whether the state of the last apply is still in the
// kernel: the backend's own check (nftables: the ruleset generation, and
// only when it moved a netlink dump of wanlb's table; iptables: the
// PREROUTING jump, one process) and one netlink dump of the ip rules. The
// daemon checks it every few seconds and on every firewall change event,
// and re-applies in full when it is false.
func (d *DataPlane) Intact(want *Desired) bool {
	if !d.fw.Intact() {
		return false
	}
	have, err := d.rt.Rules()
	if err != nil {
		return false
	}
	for _, r := range want.Rules {
		if !slices.Contains(have, r) {
			return false
		}
	}
	return true
}

// AdoptMarks reads which device each of wanlb's routing tables routes to,
// as mark indexes by device: a daemon restarted after a crash keeps every
// WAN's mark, so existing connections keep their WAN.
func (d *DataPlane) AdoptMarks() (map[string]uint32, error) {
	routes, err := d.rt.Routes()
	if err != nil {
		return nil, err
	}
	out := map[string]uint32{}
	for _, r := range routes {
		if r.Type == RouteUnicast && r.Device != "" && !r.V6 {
			out[r.Device] = uint32(r.Table - TableBase)
		}
	}
	return out, nil
}
