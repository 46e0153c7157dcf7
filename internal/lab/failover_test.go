package lab_test

// Failover tests: the real wanlb daemon runs in the router namespace with
// manual probe targets in the lab's internet; faults are injected in the
// ISP namespaces and the tests watch `wanlb status --json` and traffic.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/daemon"
	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
)

// targets is the manual detection every lab WAN uses: three targets of
// different kinds, so one lost packet never fails a round.
const targets = "\toption detection 'manual'\n\tlist track '198.18.100.1'\n\tlist track 'tcp://198.18.100.1:80'\n\tlist track 'dns://198.18.100.1/probe.test'\n"

// labWANs is the UCI text for wan1..wanN with extra options per WAN.
func labWANs(l *lab.Lab, extra map[int]string) string {
	var b strings.Builder
	for _, isp := range l.ISPs {
		fmt.Fprintf(&b, "config wan 'wan%d'\n\toption device '%s'\n\toption gateway '%s'\n", isp.Index, isp.RouterDev, isp.Gateway)
		if x, ok := extra[isp.Index]; ok {
			b.WriteString(x)
		} else {
			b.WriteString(targets)
		}
		b.WriteString("\n")
	}
	return b.String()
}

type daemonRun struct {
	t         testing.TB
	l         *lab.Lab
	bin       string
	configDir string
	runDir    string
	proc      *lab.Process
	stopped   bool
	// ubusRun, when set, is the directory the daemon sees as /run: the
	// kit's ubusd for the router, with the netifd stand-in, listens in
	// it where OpenWrt's does (/var/run/ubus/ubus.sock).
	ubusRun string
}

// startDaemon builds the lab's DNS target and runs `wanlb daemon` in the
// router namespace with the given config.
func startDaemon(t testing.TB, l *lab.Lab, configText string) *daemonRun {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	failoverDNS(t, l)
	d := &daemonRun{t: t, l: l, bin: bin, configDir: t.TempDir(), runDir: t.TempDir()}
	d.writeConfig(configText)
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.proc.Output())
		}
	})
	return d
}

func (d *daemonRun) writeConfig(text string) {
	if err := os.WriteFile(filepath.Join(d.configDir, "wanlb"), []byte(text), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// reload writes a new config and signals the daemon (SIGHUP).
func (d *daemonRun) reload(text string) {
	d.writeConfig(text)
	if err := d.proc.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		d.t.Fatal(err)
	}
}

// stop sends SIGTERM and waits; a clean stop removes the kernel state.
func (d *daemonRun) stop() {
	if d.stopped {
		return
	}
	d.stopped = true
	d.proc.Cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.proc.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			d.t.Errorf("daemon exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		d.t.Errorf("daemon did not stop within 10s of SIGTERM")
		d.proc.Kill()
	}
}

// restart stops the daemon with SIGTERM (which removes its kernel state)
// and starts it again on the same config and run directory, as procd does.
func (d *daemonRun) restart() {
	d.t.Helper()
	d.stop()
	d.start()
}

// start runs `wanlb daemon` in the router namespace. With ubusRun it runs
// in a mount namespace of its own (`ip netns exec` makes one) in which
// ubusRun is /run, so that it finds ubusd where it looks on OpenWrt.
func (d *daemonRun) start() {
	d.t.Helper()
	args := []string{d.bin, "--config-dir", d.configDir, "--run-dir", d.runDir, "daemon"}
	if d.ubusRun != "" {
		args = append([]string{"sh", "-c", `mount --bind "$0" /run && exec "$@"`, d.ubusRun}, args...)
	}
	p, err := d.l.Start(d.l.Router, args[0], args[1:]...)
	if err != nil {
		d.t.Fatal(err)
	}
	d.proc, d.stopped = p, false
}

// status runs `wanlb status --json` in the router namespace.
func (d *daemonRun) status() (daemon.Status, error) {
	var s daemon.Status
	out, err := d.l.Exec(d.l.Router, d.bin, "--run-dir", d.runDir, "status", "--json")
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal([]byte(out), &s)
}

func (d *daemonRun) wan(name string) daemon.WANStatus {
	s, err := d.status()
	if err != nil {
		return daemon.WANStatus{}
	}
	for _, w := range s.WANs {
		if w.Name == name {
			return w
		}
	}
	return daemon.WANStatus{}
}

// waitState waits until wan is in state and returns how long it took.
func (d *daemonRun) waitState(wan, state string, within time.Duration) time.Duration {
	d.t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if d.wan(wan).State == state {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s, _ := d.status()
	d.t.Fatalf("%s not %s within %s; status %+v", wan, state, within, s.WANs)
	return 0
}

func (d *daemonRun) waitAllOnline(within time.Duration) {
	d.t.Helper()
	for _, isp := range d.l.ISPs {
		d.waitState(fmt.Sprintf("wan%d", isp.Index), "online", within)
	}
}

// failoverDNS runs dnsmasq in the internet namespace answering probe.test.
func failoverDNS(t testing.TB, l *lab.Lab) {
	_, err := l.Start(l.Internet, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
		"--listen-address=198.18.100.1", "--port=53", "--address=/probe.test/198.18.100.1", "--pid-file", "--user=root", "--conf-file=/dev/null")
	if err != nil {
		t.Fatal(err)
	}
}

// counts opens n connections from the client and counts them per ISP.
func counts(t *testing.T, l *lab.Lab, n int) map[int]int {
	c, err := l.CountISPs(l.Client, n, 80)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFailoverBlackholeAndRecovery(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 3})
	hookOut := filepath.Join(t.TempDir(), "hook.log")
	hook := filepath.Join(t.TempDir(), "hook.sh")
	os.WriteFile(hook, []byte("#!/bin/sh\necho \"$ACTION $WAN $DEVICE\" >> "+hookOut+"\n"), 0o755)
	d := startDaemon(t, l, "config globals 'globals'\n\toption hook '"+hook+"'\n\n"+labWANs(l, nil))
	d.waitAllOnline(15 * time.Second)

	if err := l.Blackhole(1); err != nil {
		t.Fatal(err)
	}
	took := d.waitState("wan1", "offline", 10*time.Second)
	t.Logf("blackholed wan1 offline after %s (bound: down 3 x interval 1s + timeout 1s = 4s)", took.Round(10*time.Millisecond))
	if ch := d.wan("wan1").Changes; len(ch) == 0 || ch[len(ch)-1].To != "offline" || ch[len(ch)-1].Reason == "" {
		t.Errorf("status lacks the change to offline: %+v", ch)
	}
	c := counts(t, l, 150)
	if c[1] > 0 || c[0] > 0 || c[2] == 0 || c[3] == 0 {
		t.Errorf("with wan1 offline, new connections went %v", c)
	}

	l.Heal(1)
	took = d.waitState("wan1", "online", 15*time.Second)
	t.Logf("healed wan1 online after %s", took.Round(10*time.Millisecond))
	if c := counts(t, l, 150); c[1] == 0 || c[0] > 0 {
		t.Errorf("after recovery wan1 carries nothing: %v", c)
	}
	// The hook runs in the background.
	waitFile(t, hookOut, "offline wan1 wan1\n", 5*time.Second)
	waitFile(t, hookOut, "online wan1 wan1\n", 5*time.Second)
}

func TestFailoverCarrierLossIsImmediate(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2})
	// A 10 s interval: probes alone would need 30 s to notice.
	slow := strings.ReplaceAll(targets, "'manual'\n", "'manual'\n\toption interval '10'\n\toption up '1'\n")
	d := startDaemon(t, l, labWANs(l, map[int]string{1: slow, 2: slow}))
	d.waitAllOnline(30 * time.Second)
	if err := l.CarrierDown(1); err != nil {
		t.Fatal(err)
	}
	took := d.waitState("wan1", "offline", 5*time.Second)
	t.Logf("carrier loss noticed after %s", took.Round(time.Millisecond))
	// Probes alone would need 3 rounds of 10 s; anything near that means
	// the carrier event was missed.
	if took > 5*time.Second {
		t.Errorf("carrier loss took %s: it waited for probe rounds instead of the link event", took)
	}
	if c := counts(t, l, 50); c[1] > 0 || c[0] > 0 {
		t.Errorf("with wan1's carrier down, connections went %v", c)
	}
	l.Heal(1)
	d.waitState("wan1", "online", 25*time.Second)
}

// udpFlow sends a datagram every 20 ms from one client socket to the echo
// server and records which ISP each reply came through.
type udpFlow struct {
	mu      sync.Mutex
	replies []flowReply
	stop    chan struct{}
}

type flowReply struct {
	at  time.Time
	isp int
}

func startUDPFlow(t testing.TB, l *lab.Lab) *udpFlow {
	c, err := l.DialUDP(l.Client, "198.18.1.2:40000", "198.18.100.1:7")
	if err != nil {
		t.Fatal(err)
	}
	f := &udpFlow{stop: make(chan struct{})}
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			remote, _, _ := strings.Cut(string(buf[:n]), " ")
			f.mu.Lock()
			f.replies = append(f.replies, flowReply{time.Now(), l.ISPOf(remote)})
			f.mu.Unlock()
		}
	}()
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-f.stop:
				c.Close()
				return
			case <-tick.C:
				c.Write([]byte(fmt.Sprint(i)))
			}
		}
	}()
	t.Cleanup(func() { close(f.stop) })
	return f
}

func (f *udpFlow) last() (flowReply, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.replies) == 0 {
		return flowReply{}, 0
	}
	return f.replies[len(f.replies)-1], len(f.replies)
}

func TestFailoverMovesUDPFlow(t *testing.T) {
	t.Run("flush_conntrack 1: the flow moves", func(t *testing.T) { udpFailover(t, 1) })
	// The contrast: without deleting the dead WAN's conntrack entries the
	// flow keeps its mark and stays on the dead link.
	t.Run("flush_conntrack 0: the flow is stuck", func(t *testing.T) { udpFailover(t, 0) })
}

func udpFailover(t *testing.T, flush int) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2})
	d := startDaemon(t, l, fmt.Sprintf("config globals 'globals'\n\toption flush_conntrack '%d'\n\n", flush)+labWANs(l, nil))
	d.waitAllOnline(15 * time.Second)
	f := startUDPFlow(t, l)
	first, n := f.last()
	for end := time.Now().Add(5 * time.Second); n == 0 && time.Now().Before(end); first, n = f.last() {
		time.Sleep(20 * time.Millisecond)
	}
	if n == 0 || first.isp == 0 {
		t.Fatal("the UDP flow gets no replies")
	}
	other := 3 - first.isp
	fault := time.Now()
	if err := l.Blackhole(first.isp); err != nil {
		t.Fatal(err)
	}
	if flush == 0 {
		d.waitState(fmt.Sprintf("wan%d", first.isp), "offline", 10*time.Second)
		_, before := f.last()
		time.Sleep(3 * time.Second)
		if r, after := f.last(); after != before {
			t.Fatalf("without the conntrack deletion the flow still got %d replies (last via wan%d): the test above proves nothing", after-before, r.isp)
		}
		return
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if r, _ := f.last(); r.isp == other && r.at.After(fault) {
			t.Logf("UDP flow on wan%d moved to wan%d %s after the blackhole", first.isp, other, r.at.Sub(fault).Round(10*time.Millisecond))
			// It keeps going there: 10 more replies (one per 20 ms
			// is sent).
			_, before := f.last()
			for end := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				r, after := f.last()
				if r.isp != other {
					t.Fatalf("the flow went back to wan%d", r.isp)
				}
				if after-before >= 10 {
					break
				}
				if time.Now().After(end) {
					t.Fatalf("the flow did not keep going on wan%d: %d replies in 3s", other, after-before)
				}
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the UDP flow never continued through wan%d", other)
}

func TestLinkBackupRevert(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2})
	entry := func(revert int) string {
		return labWANs(l, nil) + fmt.Sprintf("config link_backup\n\tlist primary 'wan1'\n\tlist backup 'wan2'\n\toption revert '%d'\n", revert)
	}
	d := startDaemon(t, l, entry(1))
	d.waitAllOnline(15 * time.Second)
	only := func(isp int, what string) {
		t.Helper()
		if c := counts(t, l, 40); c[isp] != 40 {
			t.Fatalf("%s: connections went %v, want all through wan%d", what, c, isp)
		}
	}
	only(1, "primary up: the backup carries nothing")
	if w := d.wan("wan2"); !w.Standby || w.Active {
		t.Errorf("backup status %+v, want standby", w)
	}
	l.Blackhole(1)
	d.waitState("wan1", "offline", 10*time.Second)
	only(2, "primary dead")
	l.Heal(1)
	d.waitState("wan1", "online", 15*time.Second)
	only(1, "revert 1: back on the primary")

	// Through the control socket: it answers once the config is applied.
	d.writeConfig(entry(0))
	if out, err := d.cli("reload"); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	l.Blackhole(1)
	d.waitState("wan1", "offline", 10*time.Second)
	only(2, "revert 0, primary dead")
	l.Heal(1)
	// Status answers after the state goroutine applied wan1's recovery.
	d.waitState("wan1", "online", 15*time.Second)
	only(2, "revert 0: stays on the backup after the primary recovered")

	// A restart (procd, an upgrade) must not forget the take-over.
	d.restart()
	d.waitAllOnline(15 * time.Second)
	only(2, "revert 0: still on the backup after the daemon restarted")
	if w := d.wan("wan1"); !w.Standby || w.Active {
		t.Errorf("after the restart the primary should stand by: %+v", w)
	}
	// Until the backup fails.
	l.Blackhole(2)
	d.waitState("wan2", "offline", 10*time.Second)
	only(1, "revert 0, the backup failed")
}

func TestLinkBackupTriggerAll(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 3})
	d := startDaemon(t, l, labWANs(l, nil)+"config link_backup\n\tlist primary 'wan1'\n\tlist primary 'wan2'\n\tlist backup 'wan3'\n\toption trigger 'all'\n")
	d.waitAllOnline(15 * time.Second)
	l.Blackhole(1)
	d.waitState("wan1", "offline", 10*time.Second)
	if c := counts(t, l, 60); c[2] != 60 {
		t.Errorf("one of two primaries down with trigger all: %v, want all on wan2", c)
	}
	l.Blackhole(2)
	d.waitState("wan2", "offline", 10*time.Second)
	if c := counts(t, l, 60); c[3] != 60 {
		t.Errorf("both primaries down: %v, want all on wan3", c)
	}
}

func TestLossDoesNotFlap(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2})
	d := startDaemon(t, l, labWANs(l, nil))
	d.waitAllOnline(15 * time.Second)
	since := d.wan("wan2").Since
	if err := l.Loss(2, 10); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(60 * time.Second)
	for time.Now().Before(end) {
		if w := d.wan("wan2"); w.State != "online" && w.State != "disconnecting" {
			t.Fatalf("10%% loss took wan2 %s", w.State)
		}
		time.Sleep(time.Second)
	}
	w := d.wan("wan2")
	t.Logf("after 60s of 10%% loss: wan2 %s, loss %.1f%% over the window", w.State, w.LossPct)
	if strings.Contains(d.proc.Output(), "wan2 offline") || !w.Since.Equal(since) && w.State != "online" {
		t.Errorf("wan2 changed state under 10%% loss:\n%s", d.proc.Output())
	}
}

func TestMaxLatency(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2})
	var delay atomic.Int64
	var ln net.Listener
	if err := l.Do(l.Internet, func() error {
		var err error
		ln, err = net.Listen("tcp", "198.18.100.1:8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(delay.Load()))
		fmt.Fprintln(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	slowTarget := "\toption detection 'manual'\n\tlist track 'http://198.18.100.1:8080/'\n\toption max_latency '300'\n\toption timeout '2'\n"
	d := startDaemon(t, l, labWANs(l, map[int]string{1: slowTarget}))
	d.waitAllOnline(15 * time.Second)
	delay.Store(int64(600 * time.Millisecond))
	d.waitState("wan1", "offline", 15*time.Second)
	if w := d.wan("wan2"); w.State != "online" {
		t.Errorf("wan2 %s, without a latency limit it must stay online", w.State)
	}
	delay.Store(0)
	d.waitState("wan1", "online", 15*time.Second)
}

// newLab builds a lab that is closed when the test ends.
func newLab(t testing.TB, opts lab.Options) *lab.Lab {
	l, err := lab.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
