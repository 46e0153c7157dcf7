package lab_test

// Peer figures for the failover benchmark. pfSense's gateway monitor is
// measured: the real dpinger runs in the router namespace beside wanlb's
// daemon, watching the same WAN, target and ISP, with the parameters pfSense
// gives it. mwan3 is not run here (it needs OpenWrt's netifd, hotplug and
// ubus); its figures are computed from mwan3track's probe loop and its
// defaults, and printed apart from measured ones.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
)

// pfSenseMonitor holds what pfSense's gwlb.inc (return_dpinger_defaults,
// start_dpinger) passes to dpinger for a gateway with default settings.
var pfSenseMonitor = struct {
	send, lossInterval, period, alert time.Duration // -s, -l, -t, -A
	latencyHigh                       time.Duration // -D
	lossHigh                          int           // -L, percent
}{500 * time.Millisecond, 2 * time.Second, 60 * time.Second, time.Second, 500 * time.Millisecond, 20}

// dpingerArgs are pfSense's arguments for one gateway: bound to the WAN's
// address, alarms through alertCmd. pfSense also passes -S (syslog), -i,
// -p and -u (pid file, status socket); the socket is kept so the bench can
// check that dpinger gets replies before the fault.
func dpingerArgs(src, target, alertCmd, socket string) []string {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	m := pfSenseMonitor
	return []string{"-f", "-r", "0", "-B", src, "-u", socket, "-C", alertCmd, "-d", "0",
		"-s", ms(m.send), "-l", ms(m.lossInterval), "-t", ms(m.period), "-A", ms(m.alert),
		"-D", ms(m.latencyHigh), "-L", strconv.Itoa(m.lossHigh), target}
}

// dpingerStatus reads "latency_us stddev_us loss%" from dpinger's status
// socket (a path, so reachable from any network namespace).
func dpingerStatus(socket string) (latencyUS, lossPct int, err error) {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	f := strings.Fields(line)
	if len(f) < 3 {
		return 0, 0, fmt.Errorf("dpinger status %q: %v", line, err)
	}
	latencyUS, err1 := strconv.Atoi(f[len(f)-3])
	lossPct, err2 := strconv.Atoi(f[len(f)-1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("dpinger status %q", line)
	}
	return latencyUS, lossPct, nil
}

// alerts reads the lines the alert script appended: the wall-clock time
// and the alarm flag dpinger passed ("1" raised, "0" cleared).
func alerts(log string) (at []time.Time, flags []string) {
	data, _ := os.ReadFile(log)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		// "<unix ns> <target> <flag> <latency> <stddev> <loss>"
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		at, flags = append(at, time.Unix(0, ns)), append(flags, f[2])
	}
	return at, flags
}

// firstAlert returns when dpinger first ran its alert command with flag
// after since.
func firstAlert(log, flag string, since time.Time) (time.Time, bool) {
	at, flags := alerts(log)
	for i := range at {
		if flags[i] == flag && at[i].After(since) {
			return at[i], true
		}
	}
	return time.Time{}, false
}

// sideBySide is one run: wanlb's daemon and pfSense's dpinger watch wan1
// of a fresh lab; ISP 1 is blackholed for outage, then healed. It returns
// when wanlb's status said offline and when dpinger raised its alarm
// (both from the fault), and when wanlb said online again and dpinger
// cleared its alarm (both from the heal).
func sideBySide(b *testing.B, outage time.Duration) (wanlbDown, dpingerDown, wanlbUp, dpingerUp time.Duration) {
	l := newLab(b, lab.Options{ISPs: 2})
	defer l.Close()
	started := time.Now()
	dp := startDpinger(b, l)
	p, alertLog, socket := dp.proc, dp.alertLog, dp.socket
	d := startDaemon(b, l, labWANs(l, nil))
	defer d.stop()
	d.waitAllOnline(20 * time.Second)
	// dpinger averages loss over its whole period (60 s); on a router it
	// has been running far longer than that, so the fault comes only once
	// the window is full of answered probes.
	for time.Since(started) < pfSenseMonitor.period+pfSenseMonitor.lossInterval {
		time.Sleep(200 * time.Millisecond)
	}
	if lat, loss, err := dpingerStatus(socket); err != nil || lat == 0 || loss != 0 {
		b.Fatalf("dpinger before the fault: latency %d us, loss %d%%, %v\n%s", lat, loss, err, p.Output())
	}
	if at, _ := alerts(alertLog); len(at) > 0 {
		b.Fatalf("dpinger alarmed before the fault:\n%s", p.Output())
	}

	t0 := time.Now()
	if err := l.Blackhole(1); err != nil {
		b.Fatal(err)
	}
	var wDown, pDown time.Time
	for end := t0.Add(outage); time.Now().Before(end) && (wDown.IsZero() || pDown.IsZero()); time.Sleep(50 * time.Millisecond) {
		if wDown.IsZero() && d.wan("wan1").State == "offline" {
			wDown = time.Now()
		}
		if at, ok := firstAlert(alertLog, "1", t0); ok && pDown.IsZero() {
			pDown = at
		}
	}
	if wDown.IsZero() || pDown.IsZero() {
		b.Fatalf("within the %s outage: wanlb offline %v, dpinger alarm %v\n%s", outage, !wDown.IsZero(), !pDown.IsZero(), p.Output())
	}
	// The outage lasts a fixed time, so dpinger's recovery (which waits
	// for the lost probes to leave its window) is comparable between runs.
	time.Sleep(time.Until(t0.Add(outage)))
	t1 := time.Now()
	if err := l.Heal(1); err != nil {
		b.Fatal(err)
	}
	var wUp, pUp time.Time
	for end := t1.Add(pfSenseMonitor.period + 30*time.Second); time.Now().Before(end) && (wUp.IsZero() || pUp.IsZero()); time.Sleep(50 * time.Millisecond) {
		if wUp.IsZero() && d.wan("wan1").State == "online" {
			wUp = time.Now()
		}
		if at, ok := firstAlert(alertLog, "0", t1); ok && pUp.IsZero() {
			pUp = at
		}
	}
	if wUp.IsZero() || pUp.IsZero() {
		b.Fatalf("after healing: wanlb online %v, dpinger cleared %v\n%s", !wUp.IsZero(), !pUp.IsZero(), p.Output())
	}
	return wDown.Sub(t0), pDown.Sub(t0), wUp.Sub(t1), pUp.Sub(t1)
}

// mwan3Track models mwan3track's loop (openwrt/packages net/mwan3,
// usr/sbin/mwan3track): the targets of a round are pinged one after
// another (count 1, waiting timeout for each until reliability answered),
// then the loop sleeps interval; `down` failed rounds in a row take the
// interface offline, `up` good rounds in a row (counted from zero once
// offline) bring it back.
type mwan3Track struct {
	name                     string
	interval, timeout        time.Duration
	down, up, targets, needs int // needs: reliability
}

// mwan3Defaults are mwan3 2.12's: mwan3track's built-in defaults with one
// target, and the interface 'wan' of the /etc/config/mwan3 it ships (four
// targets, reliability 2, the other options unset).
var mwan3Defaults = []mwan3Track{
	{"mwan3 2.12, built-in defaults, 1 target", 10 * time.Second, 4 * time.Second, 5, 5, 1, 1},
	{"mwan3 2.12, shipped config (4 targets, reliability 2)", 10 * time.Second, 4 * time.Second, 5, 5, 4, 2},
}

// detection is the range from a silent fault to mwan3track declaring the
// interface offline. A dead round pings every target (none answers), each
// for timeout. Best case: the fault comes just before a round. Worst: just
// after a good round, which then sleeps a whole interval first.
func (m mwan3Track) detection() (best, worst time.Duration) {
	dead := time.Duration(m.targets) * m.timeout
	best = time.Duration(m.down)*dead + time.Duration(m.down-1)*m.interval
	return best, best + m.interval
}

// recovery is the range from the heal to mwan3track declaring the
// interface online: `up` good rounds (answered at once), interval apart.
// Worst case: the heal comes just after a round started failing, which
// first runs out its timeouts and sleeps.
func (m mwan3Track) recovery() (best, worst time.Duration) {
	best = time.Duration(m.up-1) * m.interval
	return best, best + time.Duration(m.targets)*m.timeout + m.interval
}

// wanlbBound is wanlb's computed worst case for n rounds in a row to
// follow a change (internal/tracker): a round starts every interval and is
// judged by its timeout, so down × interval + timeout to go offline after
// a silent fault and up × interval + timeout to come back.
func wanlbBound(interval, timeout time.Duration, down int) time.Duration {
	return time.Duration(down)*interval + timeout
}

func TestMwan3Model(t *testing.T) {
	// Hand-computed from mwan3track's loop, as a check of the formulas.
	tests := []struct {
		m                  mwan3Track
		detect, recoverMax [2]time.Duration
	}{
		{mwan3Defaults[0], [2]time.Duration{60 * time.Second, 70 * time.Second}, [2]time.Duration{40 * time.Second, 54 * time.Second}},
		{mwan3Defaults[1], [2]time.Duration{120 * time.Second, 130 * time.Second}, [2]time.Duration{40 * time.Second, 66 * time.Second}},
	}
	for _, tt := range tests {
		b, w := tt.m.detection()
		rb, rw := tt.m.recovery()
		if [2]time.Duration{b, w} != tt.detect || [2]time.Duration{rb, rw} != tt.recoverMax {
			t.Errorf("%s: detection %s-%s, recovery %s-%s; want %v, %v", tt.m.name, b, w, rb, rw, tt.detect, tt.recoverMax)
		}
	}
	if got := wanlbBound(time.Second, time.Second, 3); got != 4*time.Second {
		t.Errorf("wanlb bound with defaults = %s, want 4s", got)
	}
}
