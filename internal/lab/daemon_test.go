package lab_test

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
	"github.com/wanlb/wanlb/internal/netifd"
	"github.com/wanlb/wanlb/internal/netifdtest"
	"github.com/wanlb/wanlb/internal/openwrttest"
)

// netifdWANs is the UCI text for WANs that leave device and gateway to
// netifd, as a router's config does.
func netifdWANs(l *lab.Lab, weights ...int) string {
	var b strings.Builder
	for i, isp := range l.ISPs {
		w := 1
		if i < len(weights) {
			w = weights[i]
		}
		fmt.Fprintf(&b, "config wan 'wan%d'\n\toption weight '%d'\n%s\n", isp.Index, w, targets)
	}
	return b.String()
}

// serveNetifd has the kit's netifd stand-in, on a real ubusd for the
// router, answer for the lab's WANs; up lists the ISPs whose interface is
// up. Called again, it changes the answers (netifd after an event). It
// returns the directory the daemon must see as /run.
func serveNetifd(t *testing.T, l *lab.Lab, ow *openwrttest.Tools, up ...int) string {
	return serveNetifdGW(t, l, ow, nil, up...)
}

// serveNetifdGW is serveNetifd with some gateways replaced (a DHCP
// renewal that moved the gateway).
func serveNetifdGW(t *testing.T, l *lab.Lab, ow *openwrttest.Tools, gateways map[int]netip.Addr, up ...int) string {
	ifaces := map[string]netifd.Interface{}
	for _, isp := range l.ISPs {
		ifc := netifd.Interface{Name: fmt.Sprintf("wan%d", isp.Index)}
		for _, k := range up {
			if k == isp.Index {
				ifc.Up, ifc.Device, ifc.Gateway = true, isp.RouterDev, isp.Gateway
				if gw, ok := gateways[isp.Index]; ok {
					ifc.Gateway = gw
				}
			}
		}
		if isp.Index == 2 {
			ifc.DNS = []netip.Addr{netip.MustParseAddr("198.18.100.53")}
		}
		ifaces[ifc.Name] = ifc
	}
	return netifdtest.Serve(t, ow, l.Router, ifaces)
}

// startDaemonWithUbus runs the daemon with ubusRun (from serveNetifd) as
// its /run.
func startDaemonWithUbus(t *testing.T, l *lab.Lab, ubusRun, config string) *daemonRun {
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	failoverDNS(t, l)
	d := &daemonRun{t: t, l: l, bin: bin, configDir: t.TempDir(), runDir: t.TempDir(), ubusRun: ubusRun}
	d.writeConfig(config)
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.proc.Output())
		}
	})
	return d
}

// cli runs a wanlb command in the router namespace.
func (d *daemonRun) cli(args ...string) (string, error) {
	return d.l.Exec(d.l.Router, d.bin, append([]string{"--config-dir", d.configDir, "--run-dir", d.runDir}, args...)...)
}

// balanced waits until new connections from the client use every ISP in
// want again, for up to within.
func balanced(t *testing.T, l *lab.Lab, within time.Duration, want ...int) {
	t.Helper()
	end := time.Now().Add(within)
	var c map[int]int
	for time.Now().Before(end) {
		c = counts(t, l, 60)
		ok := c[0] == 0
		for _, k := range want {
			ok = ok && c[k] > 0
		}
		if ok {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("connections not balanced over %v within %s: %v", want, within, c)
}

func TestDaemonLifecycle(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2})
	ow := openwrttest.New(t)
	ubus := serveNetifd(t, l, ow, 1, 2)
	if _, err := l.Exec(l.Internet, "ip", "addr", "add", "198.18.100.53/32", "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	stopDNS, err := l.ServeWhoami(l.Internet, "198.18.100.53:53")
	if err != nil {
		t.Fatal(err)
	}
	defer stopDNS()
	d := startDaemonWithUbus(t, l, ubus, netifdWANs(l))

	// Start: devices and gateways come from netifd.
	d.waitAllOnline(15 * time.Second)
	if w := d.wan("wan2"); w.Device != "wan2" || w.Gateway != "198.18.12.1" || !w.Active {
		t.Fatalf("wan2 from netifd: %+v", w)
	}
	out, err := d.cli("status")
	if err != nil || !strings.Contains(out, "wan1") || !strings.Contains(out, "online") {
		t.Fatalf("status table: %v\n%s", err, out)
	}
	// The status names the build (the lab's is built without -X: "dev").
	if s, err := d.status(); err != nil || s.Version != "dev" {
		t.Errorf("status version %q (%v), want the build's \"dev\"", s.Version, err)
	}
	balanced(t, l, 5*time.Second, 1, 2)

	// The DNS server netifd learned on wan2 is always reached through wan2.
	for i := 0; i < 20; i++ {
		remote, err := l.WhoamiAt(l.Client, "198.18.100.53:53")
		if err != nil || l.ISPOf(remote) != 2 {
			t.Fatalf("connection %d to wan2's DNS server went %q (%v), want through wan2", i, remote, err)
		}
	}

	// A long-lived connection on wan1 must survive reloads, repair and a
	// restart (wan2 goes down below, which rightly ends wan2's connections).
	echoServer(t, l, "198.18.100.1:9")
	var conn net.Conn
	for i := 0; i < 50 && conn == nil; i++ {
		c, err := l.DialTCP(l.Client, "198.18.100.1:9")
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && l.ISPOf(strings.TrimSpace(line)) == 1 {
			conn = c
		} else {
			c.Close()
		}
	}
	if conn == nil {
		t.Fatal("no connection landed on wan1 in 50 tries")
	}
	defer conn.Close()
	ping := func(what string) {
		t.Helper()
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := fmt.Fprintln(conn, what); err != nil {
			t.Fatalf("long connection broke %s: %v", what, err)
		}
		buf := make([]byte, 256)
		if _, err := conn.Read(buf); err != nil {
			t.Fatalf("long connection broke %s: %v", what, err)
		}
	}
	ping("before reload")

	// A bad config is refused; the daemon keeps its last good one.
	d.writeConfig(netifdWANs(l) + "config wan 'wan9'\n\toption weight '500'\n")
	out, err = d.cli("reload")
	if err == nil || !strings.Contains(out, "wanlb.wan9.weight: must be between 1 and 100 (got '500')") {
		t.Fatalf("bad reload: %v\n%s", err, out)
	}
	if s, _ := d.status(); len(s.Problems) == 0 {
		t.Error("status does not show the refused config's problems")
	}
	balanced(t, l, 5*time.Second, 1, 2)

	// A good config with new weights applies only the difference.
	d.writeConfig(netifdWANs(l, 3, 1))
	if out, err := d.cli("reload"); err != nil {
		t.Fatalf("good reload: %v\n%s", err, out)
	}
	if w := d.wan("wan1"); w.Share != 0.75 {
		t.Errorf("after reload wan1 share %v, want 0.75", w.Share)
	}
	ping("after reload")

	// Repair: `nft delete table inet wanlb` (fw4 flush deletes it too).
	if _, err := l.Exec(l.Router, "nft", "delete", "table", "inet", "wanlb"); err != nil {
		t.Fatal(err)
	}
	flushed := time.Now()
	for {
		if out, _ := l.Exec(l.Router, "nft", "list", "chain", "inet", "wanlb", "decide"); strings.Contains(out, `comment "default"`) {
			t.Logf("rules restored %s after the table was deleted", time.Since(flushed).Round(time.Millisecond))
			break
		}
		if time.Since(flushed) > 10*time.Second {
			t.Fatal("rules not restored within 10s of deleting table inet wanlb")
		}
		time.Sleep(20 * time.Millisecond)
	}
	balanced(t, l, 5*time.Second, 1, 2)

	// Hotplug: netifd says wan2 went down.
	serveNetifd(t, l, ow, 1)
	if out, err := d.cli("hotplug", "ifdown", "wan2"); err != nil {
		t.Fatalf("hotplug: %v\n%s", err, out)
	}
	d.waitState("wan2", "offline", 3*time.Second)
	if c := counts(t, l, 40); c[1] != 40 {
		t.Errorf("with wan2 down in netifd, connections went %v", c)
	}
	serveNetifd(t, l, ow, 1, 2)
	d.cli("hotplug", "ifup", "wan2")
	d.waitState("wan2", "online", 15*time.Second)

	// A DHCP renewal moves wan2's gateway: netifd reports it with ifupdate.
	if _, err := l.Exec(l.ISPs[1].NS, "ip", "addr", "add", "198.18.12.254/24", "dev", "r0"); err != nil {
		t.Fatal(err)
	}
	serveNetifdGW(t, l, ow, map[int]netip.Addr{2: netip.MustParseAddr("198.18.12.254")}, 1, 2)
	if out, err := d.cli("hotplug", "ifupdate", "wan2"); err != nil {
		t.Fatalf("hotplug ifupdate: %v\n%s", err, out)
	}
	if out, _ := l.Exec(l.Router, "ip", "route", "show", "table", "3002"); !strings.Contains(out, "via 198.18.12.254") {
		t.Fatalf("wan2's table after the gateway moved:\n%s", out)
	}
	if w := d.wan("wan2"); w.Gateway != "198.18.12.254" {
		t.Errorf("status shows wan2 gateway %q", w.Gateway)
	}
	balanced(t, l, 5*time.Second, 1, 2)

	// kill -9 and restart: new connections keep working throughout.
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := l.Whoami(l.Client, 80); err != nil {
				failed.Add(1)
			} else {
				ok.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// moreOK waits until n more connections succeeded.
	moreOK := func(n int64, what string) {
		t.Helper()
		want := ok.Load() + n
		for end := time.Now().Add(15 * time.Second); ok.Load() < want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%s: %d connections ok, %d failed; want %d ok", what, ok.Load(), failed.Load(), want)
			}
		}
	}
	marks := map[string]string{"wan1": d.wan("wan1").Mark, "wan2": d.wan("wan2").Mark}
	moreOK(10, "before kill -9")
	d.proc.Cmd.Process.Signal(syscall.SIGKILL)
	d.proc.Wait()
	d.stopped = true
	moreOK(10, "with no daemon") // the kernel state stays
	// The config changed while the daemon was down: wan2 now comes first,
	// so a fresh assignment would give it wan1's mark and move wan1's
	// connections to wan2. Adoption keeps every WAN's mark.
	d.writeConfig("config wan 'wan2'\n\toption weight '1'\n" + targets + "\nconfig wan 'wan1'\n\toption weight '3'\n" + targets)
	d.start()
	d.waitAllOnline(15 * time.Second)
	moreOK(10, "after the restart")
	close(stop)
	<-done
	t.Logf("through kill -9 and restart: %d connections, %d failed", ok.Load()+failed.Load(), failed.Load())
	if failed.Load() > 0 || ok.Load() < 30 {
		t.Errorf("through kill -9 and restart: %d ok, %d failed", ok.Load(), failed.Load())
	}
	if !strings.Contains(d.proc.Output(), "adopted the marks of 2 WANs") {
		t.Errorf("restart did not adopt the marks:\n%s", d.proc.Output())
	}
	for wan, mark := range marks {
		if got := d.wan(wan).Mark; got != mark || mark == "" {
			t.Errorf("%s has mark %q after the restart, had %q", wan, got, mark)
		}
	}
	ping("after kill -9 and restart")

	// Failover still works in the restarted daemon.
	l.Blackhole(1)
	d.waitState("wan1", "offline", 10*time.Second)
	l.Heal(1)

	// SIGTERM: a clean stop removes every rule.
	d.stop()
	if out, _ := l.Exec(l.Router, "ip", "rule"); strings.Contains(out, "lookup 30") {
		t.Errorf("ip rules left after stop:\n%s", out)
	}
	if out, _ := l.Exec(l.Router, "nft", "list", "tables"); strings.Contains(out, "wanlb") {
		t.Errorf("table left after stop:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(d.runDir, "wanlb.sock")); err == nil {
		t.Error("control socket left after stop")
	}
}

// waitFile waits until the file at path contains want.
func waitFile(t *testing.T, path, want string, within time.Duration) {
	t.Helper()
	end := time.Now().Add(within)
	for {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(end) {
			b, _ := os.ReadFile(path)
			t.Fatalf("%s does not contain %q within %s:\n%s", path, want, within, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// TestDaemonStopsDespiteHooks: hooks that leave children behind must not
// hold up SIGTERM; procd kills a daemon that takes longer than 5 s, before
// it removed its rules. One hook backgrounds a sleep and exits (the sleep
// holds the hook's output pipe); the other is still waiting for its sleep.
func TestDaemonStopsDespiteHooks(t *testing.T) {
	labtest.RequireRoot(t)
	l := newLab(t, lab.Options{ISPs: 2})
	dir := t.TempDir()
	pids, hook := filepath.Join(dir, "pids"), filepath.Join(dir, "hook.sh")
	script := "#!/bin/sh\nsleep 1000 &\necho \"$ACTION $! $$\" >> " + pids + "\n[ \"$ACTION\" = online ] && sleep 1000\nexit 0\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, l, "config globals 'globals'\n\toption hook '"+hook+"'\n\n"+labWANs(l, nil))
	t.Cleanup(func() {
		// The offline hook's background sleep outlives its hook on purpose.
		b, _ := os.ReadFile(pids)
		for _, line := range strings.Split(string(b), "\n") {
			for _, pid := range strings.Fields(line)[min(1, len(strings.Fields(line))):] {
				if n, err := strconv.Atoi(pid); err == nil && alive(pid) {
					syscall.Kill(n, syscall.SIGKILL)
				}
			}
		}
	})
	d.waitAllOnline(15 * time.Second)
	if err := l.CarrierDown(1); err != nil {
		t.Fatal(err)
	}
	d.waitState("wan1", "offline", 5*time.Second)
	waitFile(t, pids, "offline ", 5*time.Second)
	if err := l.Heal(1); err != nil {
		t.Fatal(err)
	}
	d.waitState("wan1", "online", 15*time.Second)
	waitFile(t, pids, "online ", 5*time.Second)

	d.stopped = true
	start := time.Now()
	d.proc.Cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.proc.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("daemon exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		d.proc.Kill()
		t.Fatalf("daemon did not stop within 10s of SIGTERM with hooks running:\n%s", d.proc.Output())
	}
	took := time.Since(start)
	t.Logf("stopped %s after SIGTERM with a hook running and a hook's child holding its output", took.Round(10*time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("stop took %s, procd's term timeout is 5s", took)
	}
	if out, _ := l.Exec(l.Router, "ip", "rule"); strings.Contains(out, "lookup 30") {
		t.Errorf("ip rules left after stop:\n%s", out)
	}
	if out, _ := l.Exec(l.Router, "iptables", "-w", "-t", "mangle", "-S"); strings.Contains(out, "wanlb") {
		t.Errorf("chains left after stop:\n%s", out)
	}
	// The hook that was still running went with its children.
	b, _ := os.ReadFile(pids)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "online" {
			for _, pid := range f[1:] {
				if alive(pid) {
					t.Errorf("the running hook's process %s survived the stop", pid)
				}
			}
		}
	}
}
