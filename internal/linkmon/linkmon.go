// Package linkmon watches the carrier of network devices: netlink link
// events for an immediate answer when a cable is pulled, plus a periodic
// poll, because netlink drops events when its socket buffer overflows.
package linkmon

import (
	"context"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Link is one device's state.
type Link struct {
	Device  string
	Exists  bool
	Carrier bool // administratively up and the lower layer is up
}

func fromNetlink(l netlink.Link) Link {
	a := l.Attrs()
	return Link{
		Device:  a.Name,
		Exists:  true,
		Carrier: a.Flags&unix.IFF_UP != 0 && a.RawFlags&unix.IFF_LOWER_UP != 0,
	}
}

// Get reads one device's state now.
func Get(dev string) Link {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return Link{Device: dev}
	}
	return fromNetlink(l)
}

// PollInterval is how often every device is re-read in case an event was
// lost.
const PollInterval = 5 * time.Second

// Watch reports every change of a device's state to out until ctx ends. It
// sends every device's state once at the start. It must be called from
// the network namespace to watch; the events keep arriving from there.
func Watch(ctx context.Context, out chan<- Link) {
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	// A failed subscription leaves polling, which still notices within
	// PollInterval.
	_ = netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{ListExisting: true})

	known := map[string]Link{}
	report := func(l Link) {
		if known[l.Device] == l {
			return
		}
		known[l.Device] = l
		select {
		case out <- l:
		case <-ctx.Done():
		}
	}
	poll := func() {
		links, err := netlink.LinkList()
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, l := range links {
			seen[l.Attrs().Name] = true
			report(fromNetlink(l))
		}
		for dev := range known {
			if !seen[dev] {
				report(Link{Device: dev})
			}
		}
	}
	poll()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-updates:
			if !ok {
				updates = nil // subscription died: polling only
				continue
			}
			if u.Header.Type == unix.RTM_DELLINK {
				report(Link{Device: u.Attrs().Name})
				continue
			}
			report(fromNetlink(u.Link))
		case <-tick.C:
			poll()
		}
	}
}

// Source is where the daemon learns the devices' link state: System in
// production, a fake in the daemon's unit tests.
type Source interface {
	// Get reads one device's state now.
	Get(dev string) Link
	// Watch reports every change to out until ctx ends (see Watch).
	Watch(ctx context.Context, out chan<- Link)
}

// System is the kernel's link state, over netlink.
type System struct{}

// Get reads one device's state now.
func (System) Get(dev string) Link { return Get(dev) }

// Watch reports every change to out until ctx ends.
func (System) Watch(ctx context.Context, out chan<- Link) { Watch(ctx, out) }
