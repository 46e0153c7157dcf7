// Package demo is the live demo behind `make demo`: a namespace lab with
// three simulated ISPs, the real wanlb daemon in its router, background
// traffic from the LAN client, and the daemon's web UI relayed to
// 127.0.0.1:8088 in the host namespace. Break and Heal inject faults into
// the running demo from another process.
//
// Nothing of the lab enters the host namespace: its addresses (all in
// 198.18.0.0/15) and routes stay in the lab's namespaces; the relay's
// listener on 127.0.0.1 is the only host-side socket.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/daemon"
	"github.com/wanlb/wanlb/internal/lab"
)

// The demo's fixed names and defaults.
const (
	// Prefix starts the name of every namespace the demo creates.
	Prefix = "wlbdemo-"
	// DefaultStateDir holds the state file, the daemon's config and run dir.
	DefaultStateDir = "/run/wanlb-demo"
	// DefaultListen is the relay's address in the host namespace.
	DefaultListen = "127.0.0.1:8088"
	// User and Password log in to the demo's web UI.
	User     = "root"
	Password = "wanlb-demo"
	// uiAddr is where the daemon serves its UI inside the router namespace.
	uiAddr = "198.18.1.1:8088"
	// streamPort serves endless downloads in the internet namespace.
	streamPort = 8080
)

// Bandwidths are the ISPs' rates in Mbit/s, ISP k at index k-1.
var Bandwidths = []int{100, 50, 20}

// Options configures Run. The zero value runs the demo as `make demo` does.
type Options struct {
	// StateDir holds the state file that Break, Heal and Status read, the
	// daemon's config dir and its run dir; DefaultStateDir if empty.
	StateDir string
	// Wanlb is the wanlb binary; empty means "wanlb" next to the running
	// executable.
	Wanlb string
	// Listen is the relay's address in the host namespace; DefaultListen if
	// empty.
	Listen string
	// Command is how the printed instructions call wanlb-lab;
	// "dist/wanlb-lab" if empty.
	Command string
	// Out receives the instructions and the daemon's log; os.Stdout if nil.
	// It must be safe for concurrent writes.
	Out io.Writer
}

func (o *Options) defaults() error {
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Command == "" {
		o.Command = "dist/wanlb-lab"
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Wanlb == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find wanlb: %w", err)
		}
		o.Wanlb = filepath.Join(filepath.Dir(self), "wanlb")
	}
	if _, err := os.Stat(o.Wanlb); err != nil {
		return fmt.Errorf("wanlb binary: %w (build it with `make build`, or pass --wanlb)", err)
	}
	return nil
}

// Run runs the demo until ctx is done, then stops the daemon (SIGTERM, so
// it removes its rules), the relay and the traffic, and removes every
// namespace, process and file it created. Leftovers of a demo that crashed
// are removed first. A busy Listen address is an error: it is also how a
// second demo notices the first.
func Run(ctx context.Context, opts Options) (err error) {
	if err := opts.defaults(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("cannot serve the UI on %s (is a demo already running, or another program using the port?): %w", opts.Listen, err)
	}
	defer ln.Close()

	// lab.New removes the namespaces (and processes) of a crashed demo.
	l, err := lab.New(lab.Options{ISPs: len(Bandwidths), Prefix: Prefix})
	if err != nil {
		return err
	}
	st := State{PID: os.Getpid(), Prefix: Prefix, ISPs: len(Bandwidths), Bandwidths: Bandwidths,
		Router: l.Router, Wanlb: opts.Wanlb,
		ConfigDir: filepath.Join(opts.StateDir, "config"), RunDir: filepath.Join(opts.StateDir, "run")}
	defer func() { err = errors.Join(err, l.Close(), removeFiles(opts.StateDir)) }()
	if err := removeFiles(opts.StateDir); err != nil {
		return err
	}

	for k, mbit := range Bandwidths {
		if err := l.Bandwidth(k+1, mbit); err != nil {
			return err
		}
	}
	// dnsmasq answers the dns:// probe target.
	if _, err := l.Start(l.Internet, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
		"--listen-address=198.18.100.1", "--port=53", "--address=/probe.test/198.18.100.1", "--pid-file", "--user=root",
		"--conf-file=/dev/null"); err != nil {
		return err
	}
	conf, err := config(l)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(st.ConfigDir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(st.ConfigDir, "wanlb"), []byte(conf), 0o600); err != nil {
		return err
	}

	d, err := startDaemon(l, st, opts.Out)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.stop()) }()
	if err := d.waitOnline(ctx, st.RunDir, 30*time.Second); err != nil || ctx.Err() != nil {
		return err
	}

	// From here on everything stops in reverse order: relay, traffic,
	// daemon, lab, files.
	var bg sync.WaitGroup
	bgCtx, cancel := context.WithCancel(ctx)
	defer bg.Wait()
	defer cancel()
	stopStream, err := serveStream(l)
	if err != nil {
		return err
	}
	defer stopStream()
	traffic(bgCtx, l, &bg)
	stopRelay := relay(ln, l)
	defer stopRelay()

	if err := st.write(opts.StateDir); err != nil {
		return err
	}
	fmt.Fprint(opts.Out, instructions(opts))
	select {
	case <-ctx.Done():
	case <-d.done:
		return fmt.Errorf("wanlb daemon exited: %v", d.err)
	}
	fmt.Fprintln(opts.Out, "stopping the demo ...")
	return nil
}

// config is the demo's /etc/config/wanlb: weights 5/3/1, ISP 3 as the
// backup of ISPs 1 and 2, SIP over ISP 2, manual detection against the lab
// internet, and the UI with a password.
func config(l *lab.Lab) (string, error) {
	hash, err := auth.HashSHA512Crypt(Password)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "config globals 'globals'\n\toption load_balancing '1'\n\n")
	fmt.Fprintf(&b, "config ui 'ui'\n\tlist listen '%s'\n\toption auth 'password'\n\toption password_hash '%s'\n\n", uiAddr, hash)
	weights := []int{5, 3, 1}
	for i, isp := range l.ISPs {
		fmt.Fprintf(&b, "config wan 'wan%d'\n\toption label 'ISP %d (%d Mbit/s)'\n", isp.Index, isp.Index, Bandwidths[i])
		fmt.Fprintf(&b, "\toption device '%s'\n\toption gateway '%s'\n\toption weight '%d'\n", isp.RouterDev, isp.Gateway, weights[i])
		fmt.Fprintf(&b, "\toption upstream '%d'\n\toption downstream '%d'\n", Bandwidths[i]*1000, Bandwidths[i]*1000)
		fmt.Fprintf(&b, "\toption detection 'manual'\n\tlist track '198.18.100.1'\n\tlist track 'tcp://198.18.100.1:80'\n")
		fmt.Fprintf(&b, "\tlist track 'dns://198.18.100.1/probe.test'\n\n")
	}
	b.WriteString("config link_backup\n\toption name 'ISP 3 backs up ISP 1 and 2'\n\tlist primary 'wan1'\n\tlist primary 'wan2'\n" +
		"\tlist backup 'wan3'\n\toption mode 'failover'\n\toption trigger 'any'\n\toption revert '1'\n\n")
	b.WriteString("config rule\n\toption name 'SIP via ISP 2'\n\toption proto 'udp'\n\toption dest_port '5060'\n" +
		"\tlist wan 'wan2'\n\toption fallback '1'\n")
	return b.String(), nil
}

func instructions(o Options) string {
	c := o.Command
	return fmt.Sprintf(`
wanlb demo: 3 simulated ISPs (100, 50 and 20 Mbit/s) behind the real wanlb daemon,
with traffic from a LAN client. Weights 5/3/1; ISP 3 is the link backup of
ISP 1 and 2 (it joins when either fails); UDP 5060 goes via ISP 2.

  Web UI:  http://%s/   (relayed to the daemon's 198.18.1.1:8088 in the lab)
  Login:   %s / %s

From another terminal (as root):
  %[4]s break isp2 blackhole   faults: carrier, blackhole, loss[=PCT] (default %[5]v%%)
  %[4]s heal isp2
  %[4]s status
or: make demo-break ISP=2 FAULT=blackhole, make demo-heal ISP=2

Ctrl-C stops the demo and removes everything it created.

`, o.Listen, User, Password, c, DefaultLoss)
}

// removeFiles removes what the demo keeps in dir, and dir when empty.
func removeFiles(dir string) error {
	var errs []error
	for _, name := range []string{stateFile, "config", "run"} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(dir); err != nil && !os.IsNotExist(err) && !errors.Is(err, syscall.ENOTEMPTY) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// wanlbd is the daemon process, in its own process group so a Ctrl-C in
// the terminal reaches only the demo, which then stops it with SIGTERM.
type wanlbd struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startDaemon(l *lab.Lab, st State, out io.Writer) (*wanlbd, error) {
	d := &wanlbd{done: make(chan struct{})}
	d.cmd = exec.Command("ip", "netns", "exec", l.Router, st.Wanlb, "--config-dir", st.ConfigDir, "--run-dir", st.RunDir, "daemon")
	d.cmd.Stdout, d.cmd.Stderr = out, out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start wanlb daemon: %w", err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	return d, nil
}

// waitOnline waits until every WAN is online.
func (d *wanlbd) waitOnline(ctx context.Context, runDir string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		s, err := daemon.Client{RunDir: runDir}.Status()
		online := err == nil && len(s.WANs) > 0
		for _, w := range s.WANs {
			online = online && w.State == "online"
		}
		if online {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil // stopped before it was up: not an error
		case <-d.done:
			return fmt.Errorf("wanlb daemon exited: %v", d.err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("WANs not online within %s: %+v (%v)", within, s.WANs, err)
		}
	}
}

// stop sends SIGTERM and waits up to 10 s, then kills.
func (d *wanlbd) stop() error {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		return errors.New("wanlb daemon did not stop within 10 s of SIGTERM; killed")
	}
}
