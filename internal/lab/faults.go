package lab

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// carrierWait bounds how long fault helpers wait for the router to observe a
// carrier change, so callers can assert on it right after the call returns.
const carrierWait = 2 * time.Second

// CarrierDown sets isp k's router-facing link (r0) administratively down, so
// the router's wan<k> loses carrier exactly like an unplugged cable. It
// returns once the router sees the carrier loss.
func (l *Lab) CarrierDown(k int) error {
	isp, err := l.isp(k)
	if err != nil {
		return err
	}
	if _, err := run("", "ip", "-n", isp.NS, "link", "set", "r0", "down"); err != nil {
		return fmt.Errorf("lab: carrier down on ISP %d: %w", k, err)
	}
	if err := l.waitCarrier(l.Router, isp.RouterDev, false); err != nil {
		return fmt.Errorf("lab: carrier down on ISP %d: %w", k, err)
	}
	return nil
}

// Blackhole makes isp k silently drop everything it would forward, in both
// directions. Its links stay up and its gateway address still answers ARP
// and ping, which is the failure mode a carrier check cannot detect.
func (l *Lab) Blackhole(k int) error {
	isp, err := l.isp(k)
	if err != nil {
		return err
	}
	for _, tool := range l.faultTools() {
		if _, err := l.Exec(isp.NS, tool, "-w", "-A", FaultChain, "-j", "DROP"); err != nil {
			return fmt.Errorf("lab: blackhole ISP %d: %w", k, err)
		}
	}
	return nil
}

// Loss drops pct percent (0 < pct <= 100) of the packets isp k forwards, in
// each direction independently.
func (l *Lab) Loss(k int, pct float64) error {
	isp, err := l.isp(k)
	if err != nil {
		return err
	}
	if !(pct > 0 && pct <= 100) {
		return fmt.Errorf("lab: loss on ISP %d: percentage %v out of range (0, 100]", k, pct)
	}
	p := strconv.FormatFloat(pct/100, 'f', 6, 64)
	for _, tool := range l.faultTools() {
		if _, err := l.Exec(isp.NS, tool, "-w", "-A", FaultChain,
			"-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"); err != nil {
			return fmt.Errorf("lab: %v%% loss on ISP %d: %w", pct, k, err)
		}
	}
	return nil
}

// Bandwidth limits isp k to mbit Mbit/s in both directions with a token
// bucket on its egress toward the router (r0) and toward the internet (i0).
// Calling it again replaces the limit.
func (l *Lab) Bandwidth(k int, mbit int) error {
	isp, err := l.isp(k)
	if err != nil {
		return err
	}
	if mbit <= 0 {
		return fmt.Errorf("lab: bandwidth on ISP %d: rate %d Mbit/s must be positive", k, mbit)
	}
	// The bucket must hold at least a few full-size packets, and ~20 ms of
	// traffic at higher rates so the shaper itself does not stall TCP.
	burst := max(mbit*125000/50, 16*1024)
	for _, dev := range []string{"r0", "i0"} {
		if _, err := run("", "tc", "-n", isp.NS, "qdisc", "replace", "dev", dev, "root", "tbf",
			"rate", strconv.Itoa(mbit)+"mbit", "burst", strconv.Itoa(burst), "latency", "100ms"); err != nil {
			return fmt.Errorf("lab: bandwidth %d Mbit/s on ISP %d %s: %w", mbit, k, dev, err)
		}
	}
	return nil
}

// Heal undoes every fault on isp k: flushes its fault chain, brings r0 back
// up (returning once the router sees carrier again) and removes bandwidth
// limits. Port forwards are configuration, not faults, and stay.
func (l *Lab) Heal(k int) error {
	isp, err := l.isp(k)
	if err != nil {
		return err
	}
	var errs []error
	for _, tool := range l.faultTools() {
		if _, err := l.Exec(isp.NS, tool, "-w", "-F", FaultChain); err != nil {
			errs = append(errs, fmt.Errorf("flush %s fault chain: %w", tool, err))
		}
	}
	if _, err := run("", "ip", "-n", isp.NS, "link", "set", "r0", "up"); err != nil {
		errs = append(errs, fmt.Errorf("link r0 up: %w", err))
	} else if err := l.waitCarrier(l.Router, isp.RouterDev, true); err != nil {
		errs = append(errs, err)
	}
	for _, dev := range []string{"r0", "i0"} {
		out, err := run("", "tc", "-n", isp.NS, "qdisc", "show", "dev", dev, "root")
		if err != nil {
			errs = append(errs, fmt.Errorf("show qdisc on %s: %w", dev, err))
			continue
		}
		if !strings.Contains(out, "qdisc tbf") {
			continue
		}
		if _, err := run("", "tc", "-n", isp.NS, "qdisc", "del", "dev", dev, "root"); err != nil {
			errs = append(errs, fmt.Errorf("remove bandwidth limit on %s: %w", dev, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab: heal ISP %d: %w", k, err)
	}
	return nil
}

// PortForward makes internet connections to isp k's public address on TCP
// port reach the client on the same port: the ISP DNATs to the router's
// wan<k> address (as a modem in front of the router would) and the router
// DNATs to 198.18.1.2 (like an OpenWrt redirect; with Options.FW4 it is a
// redirect in fw4's config, and fw4 is reloaded). The caller runs the
// listener in the client namespace, e.g. with ServeWhoami. Repeated calls
// are no-ops.
func (l *Lab) PortForward(k int, port int) error {
	isp, err := l.isp(k)
	if err != nil {
		return err
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("lab: port forward on ISP %d: bad port %d", k, port)
	}
	if l.opts.FW4 != nil {
		// fw4 owns the router's firewall: a redirect in its config, and
		// the ISP's DNAT as below.
		if err := l.fw4PortForward(*isp, port); err != nil {
			return fmt.Errorf("lab: port forward %d on ISP %d: %w", port, k, err)
		}
	}
	p := strconv.Itoa(port)
	rules := []struct {
		ns   string
		spec []string
	}{
		{isp.NS, []string{"PREROUTING", "-i", "i0", "-p", "tcp", "--dport", p,
			"-j", "DNAT", "--to-destination", isp.RouterAddr.String() + ":" + p}},
		{l.Router, []string{"PREROUTING", "-i", isp.RouterDev, "-p", "tcp", "--dport", p,
			"-j", "DNAT", "--to-destination", clientAddr.String() + ":" + p}},
	}
	for _, r := range rules {
		if r.ns == l.Router && l.opts.FW4 != nil {
			continue
		}
		check := append([]string{"-w", "-t", "nat", "-C"}, r.spec...)
		if _, err := l.Exec(r.ns, "iptables", check...); err == nil {
			continue
		}
		add := append([]string{"-w", "-t", "nat", "-A"}, r.spec...)
		if _, err := l.Exec(r.ns, "iptables", add...); err != nil {
			return fmt.Errorf("lab: port forward %d on ISP %d: %w", port, k, err)
		}
	}
	return nil
}

// LinkState reports whether dev in ns is administratively up and whether it
// has carrier (IFF_LOWER_UP).
func (l *Lab) LinkState(ns, dev string) (up, lowerUp bool, err error) {
	h, release, err := l.nsHandle(ns)
	if err != nil {
		return false, false, err
	}
	defer release()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		return false, false, fmt.Errorf("lab: netlink handle in %s: %w", ns, err)
	}
	defer nh.Close()
	link, err := nh.LinkByName(dev)
	if err != nil {
		return false, false, fmt.Errorf("lab: link %s in %s: %w", dev, ns, err)
	}
	flags := link.Attrs().RawFlags
	return flags&unix.IFF_UP != 0, flags&unix.IFF_LOWER_UP != 0, nil
}

// waitCarrier polls until dev in ns has (or lacks) carrier. Veth carrier
// follows the peer synchronously, so this normally returns at once; the
// loop only guards against slow link-watch processing.
func (l *Lab) waitCarrier(ns, dev string, want bool) error {
	deadline := time.Now().Add(carrierWait)
	for {
		_, lower, err := l.LinkState(ns, dev)
		if err != nil {
			return err
		}
		if lower == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: %s in %s: carrier still %v after %v", dev, ns, lower, carrierWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
