package pkgspec

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/openwrttest"
	"github.com/wanlb/wanlb/internal/uciconf"
)

// The router's scripts run under busybox ash, the shell OpenWrt has (and
// under the host's /bin/sh, often dash, for portability), and call the
// real uci from the openwrt-tools kit: these tests need the kit and
// root, and fail in CI when either is missing.
func needHostShell(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("busybox"); err != nil {
		openwrttest.Unavailable(t, "busybox (OpenWrt's shell, ash) is not installed: apt-get install busybox")
	}
}

// shells are the shells to run the scripts with: busybox ash first.
func shells() [][]string {
	bb, _ := exec.LookPath("busybox")
	out := [][]string{{bb, "ash"}}
	if _, err := os.Stat("/bin/sh"); err == nil {
		out = append(out, []string{"/bin/sh"})
	}
	return out
}

// shellScripts lists every shell script in files/ and the control scripts.
func shellScripts(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := RouterFiles(filepath.Join(repoRoot(t), "files"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		if bytes.HasPrefix(f.Data, []byte("#!/bin/sh")) || strings.HasPrefix(f.Name, "/etc/hotplug.d/") {
			out["files"+f.Name] = f.Data
		}
	}
	sc := WanlbScripts()
	out["postinst"], out["prerm"] = sc.Postinst, sc.Prerm
	out["post-install"], out["post-upgrade"], out["pre-deinstall"] = sc.PostInstall, sc.PostUpgrade, sc.PreDeinstall
	return out
}

func TestShellSyntax(t *testing.T) {
	needHostShell(t)
	scripts := shellScripts(t)
	for _, want := range []string{"files/etc/init.d/wanlb", "files/etc/hotplug.d/iface/30-wanlb", "files/etc/uci-defaults/99-wanlb", "postinst", "prerm", "post-install", "post-upgrade", "pre-deinstall"} {
		if _, ok := scripts[want]; !ok {
			t.Errorf("%s is not a shell script starting with #!/bin/sh", want)
		}
	}
	dir := t.TempDir()
	for name, data := range scripts {
		p := filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, sh := range shells() {
			out, err := exec.Command(sh[0], append(sh[1:], "-n", p)...).CombinedOutput()
			if err != nil {
				t.Errorf("%v -n %s: %v\n%s", sh, name, err, out)
			}
		}
		if strings.Contains(string(data), "\r") {
			t.Errorf("%s has CR line ends", name)
		}
	}
}

// sandbox is a directory with stand-ins for the router's commands first
// in PATH, except uci, which is OpenWrt's own (from the openwrt-tools kit)
// on the sandbox's config directory.
type sandbox struct {
	t   *testing.T
	dir string
	bin string
	log string
	env []string
	cwd string // working directory of the script: the sandbox unless set
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	needHostShell(t)
	openwrttest.New(t) // the kit and root, or skip (fail in CI)
	s := &sandbox{t: t, dir: t.TempDir()}
	s.bin = filepath.Join(s.dir, "bin")
	s.log = filepath.Join(s.dir, "log")
	for _, d := range []string{"config", "uci-save", "bin"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The real uci, as `uci` in PATH: the sandbox's config and save
	// directories; a host /tmp/.uci (which uci reads besides -t) is
	// hidden by a private tmpfs, as the kit's ow_uci does.
	uci := fmt.Sprintf(`#!/bin/sh
set -- -c '%[1]s/config' -t '%[1]s/uci-save' "$@"
if [ -e /tmp/.uci ]; then
	exec unshare -m --propagation private /bin/sh -c 'mount -t tmpfs -o size=64k wanlb_uci_mask /tmp/.uci && exec "$0" "$@"' '%[2]s' "$@"
fi
exec '%[2]s' "$@"
`, s.dir, openwrttest.Bin("uci"))
	if err := os.WriteFile(filepath.Join(s.bin, "uci"), []byte(uci), 0o755); err != nil {
		t.Fatal(err)
	}
	// Commands whose calls are logged: "<name> <args>".
	for _, name := range []string{"init", "rpcd", "wanlb", "logger"} {
		s.fake(name, "")
	}
	s.fake("pidof", "exit 1")
	s.env = append(os.Environ(), "PATH="+s.bin+":"+os.Getenv("PATH"))
	return s
}

// fake writes bin/name: it logs its arguments, then runs body.
func (s *sandbox) fake(name, body string) string {
	p := filepath.Join(s.bin, name)
	script := "#!/bin/sh\necho \"" + name + " $*\" >> " + s.log + "\n" + body + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// fakeInit is /etc/init.d/wanlb: enable/disable keep a state file that
// enabled reports; running succeeds when $RUNNING is set.
func (s *sandbox) fakeInit() string {
	state := filepath.Join(s.dir, "enabled")
	return s.fake("init", `case "$1" in
enable) touch `+state+` ;;
disable) rm -f `+state+` ;;
enabled) [ -f `+state+` ] ;;
running) [ -n "$RUNNING" ] ;;
esac`)
}

func (s *sandbox) config(name, text string) {
	if err := os.WriteFile(filepath.Join(s.dir, "config", name), []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// run runs script (after replacing router paths with fakes) with shell sh.
func (s *sandbox) run(sh []string, script []byte, replace map[string]string, env []string, args ...string) string {
	s.t.Helper()
	text := string(script)
	for old, new := range replace {
		if !strings.Contains(text, old) {
			s.t.Fatalf("script does not mention %s", old)
		}
		text = strings.ReplaceAll(text, old, new)
	}
	p := filepath.Join(s.dir, "script")
	if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
		s.t.Fatal(err)
	}
	os.Remove(s.log)
	cmd := exec.Command(sh[0], append(append(sh[1:], p), args...)...)
	cmd.Dir = s.dir
	if s.cwd != "" {
		cmd.Dir = s.cwd
	}
	cmd.Env = append(append([]string(nil), s.env...), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("%v: %v\n%s", sh, err, out)
	}
	return string(out)
}

func (s *sandbox) calls() []string {
	data, _ := os.ReadFile(s.log)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func (s *sandbox) readConfig(name string) *uciconf.File {
	f, err := uciconf.ReadFile(filepath.Join(s.dir, "config", name))
	if err != nil {
		s.t.Fatal(err)
	}
	return f
}

const testFirewall = `
config defaults
	option input 'REJECT'

config zone
	option name 'lan'
	list network 'lan'

config zone
	option name 'wan'
	list network 'wan'
	list network 'wan6'
	list network 'wanb'
	list network 'wg0'
	list network 'wan'
`

const testNetwork = `
config interface 'lan'
	option proto 'static'

config interface 'wan'
	option device 'eth0.2'
	option proto 'dhcp'

config interface 'wan6'
	option device 'eth0.2'
	option proto 'dhcpv6'

config interface 'wanb'
	option device 'wwan0'
	option proto 'qmi'

config interface 'wg0'
	option proto 'wireguard'
`

func TestUCIDefaults(t *testing.T) {
	needHostShell(t)
	shipped, err := os.ReadFile(filepath.Join(repoRoot(t), "files/etc/config/wanlb"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "files/etc/uci-defaults/99-wanlb"))
	if err != nil {
		t.Fatal(err)
	}
	wans := func(f *uciconf.File) []string {
		var out []string
		for _, s := range f.OfType("wan") {
			out = append(out, s.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		wanlb    string
		network  string
		firewall string
		want     []string
	}{
		// The shipped config: wanb joins wan; wan6 (dhcpv6), wg0
		// (wireguard) and the duplicate are skipped.
		{"shipped", string(shipped), testNetwork, testFirewall, []string{"wan", "wanb"}},
		// No wan section at all.
		{"none", "config globals 'globals'\n", testNetwork, testFirewall, []string{"wan", "wanb"}},
		// An edited config is left alone.
		{"edited", "config wan 'wan'\n\toption enabled '1'\n\toption weight '3'\n\toption detection 'auto'\n", testNetwork, testFirewall, []string{"wan"}},
		{"other wan", "config wan 'lte'\n", testNetwork, testFirewall, []string{"lte"}},
		// No interface called wan: the shipped section goes.
		{"no wan interface", string(shipped),
			"config interface 'wwan'\n\toption proto 'dhcp'\n",
			"config zone\n\toption name 'wan'\n\toption network 'wwan'\n",
			[]string{"wwan"}},
		// No wan zone: nothing to add, nothing removed.
		{"no wan zone", string(shipped), testNetwork, "config zone\n\toption name 'lan'\n", []string{"wan"}},
	} {
		for _, sh := range shells() {
			t.Run(tc.name+"/"+filepath.Base(sh[len(sh)-1]), func(t *testing.T) {
				s := newSandbox(t)
				s.config("wanlb", tc.wanlb)
				s.config("network", tc.network)
				s.config("firewall", tc.firewall)
				// As OpenWrt runs it: sourced in a subshell, deleted when
				// it succeeds.
				p := filepath.Join(s.dir, "99-wanlb")
				if err := os.WriteFile(p, script, 0o755); err != nil {
					t.Fatal(err)
				}
				runner := []byte("( . " + p + " ) && rm -f " + p + "\n")
				s.run(sh, runner, nil, nil)
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Error("the script did not succeed (it would run again at every boot)")
				}
				f := s.readConfig("wanlb")
				if got := wans(f); !slices.Equal(got, tc.want) {
					t.Errorf("wan sections %v, want %v", got, tc.want)
				}
				if tc.name == "shipped" {
					b := f.Section("wanb")
					for k, v := range map[string]string{"enabled": "1", "weight": "1", "detection": "auto"} {
						if o, ok := b.Get(k); !ok || o.Values[0] != v {
							t.Errorf("wanb.%s = %v, want %s", k, o, v)
						}
					}
					if f.Section("globals") == nil || f.Section("ui") == nil {
						t.Error("other sections were lost")
					}
				}
			})
		}
	}
}

func TestUCIDefaultsNoConfig(t *testing.T) {
	s := newSandbox(t)
	s.config("network", testNetwork)
	s.config("firewall", testFirewall)
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "files/etc/uci-defaults/99-wanlb"))
	if err != nil {
		t.Fatal(err)
	}
	s.run(shells()[0], script, nil, nil)
	if _, err := os.Stat(filepath.Join(s.dir, "config", "wanlb")); !os.IsNotExist(err) {
		t.Error("created /etc/config/wanlb")
	}
}

func TestHotplug(t *testing.T) {
	needHostShell(t)
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "files/etc/hotplug.d/iface/30-wanlb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		action, iface string
		running       bool
		want          bool
	}{
		{"ifup", "wanb", true, true},
		{"ifdown", "wan", true, true},
		{"ifupdate", "wan", true, true},
		{"ifup", "lan", true, false},     // not a wan section
		{"ifup", "globals", true, false}, // a section, not of type wan
		{"ifup", "nosuch", true, false},
		{"ifup", "wan", false, false}, // daemon not running
		{"iflink", "wan", true, false},
		{"ifup", "", true, false},
		{"ifup", "wan6", true, true},     // the IPv6 side of wan, by default
		{"ifdown", "lte_v6", true, true}, // wanb's interface6
		{"ifup", "wanb6", true, false},   // wanb names another interface6
		{"ifup", "lan6", true, false},
		{"ifup", "x'; touch /tmp/p; '", true, false},
	} {
		for _, sh := range shells() {
			s := newSandbox(t)
			s.config("wanlb", "config globals 'globals'\n\nconfig wan 'wan'\n\nconfig wan 'wanb'\n\toption interface6 'lte_v6'\n")
			env := []string{"ACTION=" + tc.action, "INTERFACE=" + tc.iface}
			if tc.running {
				env = append(env, "RUNNING=1")
			}
			done := filepath.Join(s.dir, "done")
			wanlb := s.fake("wanlb", "touch "+done)
			s.run(sh, script, map[string]string{"/usr/sbin/wanlb": wanlb, "/etc/init.d/wanlb": s.fakeInit()}, env)
			// The call is made in the background.
			deadline := time.Now().Add(5 * time.Second)
			for tc.want && time.Now().Before(deadline) {
				if _, err := os.Stat(done); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !tc.want {
				time.Sleep(100 * time.Millisecond)
			}
			var called []string
			for _, c := range s.calls() {
				if strings.HasPrefix(c, "wanlb ") {
					called = append(called, c)
				}
			}
			want := []string(nil)
			if tc.want {
				want = []string{"wanlb hotplug " + tc.action + " " + tc.iface}
			}
			if !slices.Equal(called, want) {
				t.Errorf("%v %s %s (running %v): calls %v, want %v", sh, tc.action, tc.iface, tc.running, called, want)
			}
		}
	}
}

// The install scripts of both managers on a live router, and doing
// nothing for an offline root (opkg: IPKG_INSTROOT; apk: a working
// directory other than /, see apkGuard).
func TestPostinst(t *testing.T) {
	needHostShell(t)
	sc := WanlbScripts()
	install := []string{"defaults", "rpcd reload", "init enable", "init enabled", "init restart"}
	upgrade := []string{"defaults", "rpcd reload", "init enabled", "init restart"}
	for _, tc := range []struct {
		name    string
		script  []byte
		cwd     string // "": the sandbox (not /)
		args    []string
		env     []string
		enabled bool
		want    []string
	}{
		{"opkg install", sc.Postinst, "", []string{"configure"}, nil, false, install},
		{"opkg upgrade of an enabled wanlb", sc.Postinst, "", []string{"configure"}, []string{"PKG_UPGRADE=1"}, true, upgrade},
		{"opkg upgrade of a disabled wanlb", sc.Postinst, "", []string{"configure"}, []string{"PKG_UPGRADE=1"}, false, []string{"defaults", "rpcd reload", "init enabled"}},
		{"opkg on the router", sc.Postinst, "", []string{"configure"}, []string{"PKG_ROOT=/"}, false, install},
		{"opkg image build", sc.Postinst, "", []string{"configure"}, []string{"IPKG_INSTROOT=/build/root"}, false, nil},
		{"opkg offline root", sc.Postinst, "", []string{"configure"}, []string{"PKG_ROOT=/build/root/"}, false, nil},
		{"opkg no scripts", sc.Postinst, "", []string{"configure"}, []string{"IPKG_NO_SCRIPT=1"}, false, nil},
		{"apk install", sc.PostInstall, "/", []string{"1.2.0-r1"}, nil, false, install},
		{"apk upgrade of an enabled wanlb", sc.PostUpgrade, "/", []string{"1.2.0-r2", "1.2.0-r1"}, nil, true, upgrade},
		{"apk upgrade of a disabled wanlb", sc.PostUpgrade, "/", []string{"1.2.0-r2", "1.2.0-r1"}, nil, false, []string{"defaults", "rpcd reload", "init enabled"}},
		{"apk offline root install", sc.PostInstall, "", []string{"1.2.0-r1"}, nil, false, nil},
		{"apk offline root upgrade", sc.PostUpgrade, "", []string{"1.2.0-r2", "1.2.0-r1"}, nil, true, nil},
	} {
		for _, sh := range shells() {
			t.Run(tc.name+"/"+filepath.Base(sh[len(sh)-1]), func(t *testing.T) {
				s := newSandbox(t)
				s.cwd = tc.cwd
				if tc.enabled {
					os.WriteFile(filepath.Join(s.dir, "enabled"), nil, 0o644)
				}
				defaults := filepath.Join(s.dir, "99-wanlb")
				os.WriteFile(defaults, []byte("echo defaults >> "+s.log+"\n"), 0o755)
				cache := filepath.Join(s.dir, "luci-indexcache")
				os.WriteFile(cache+".abc.json", nil, 0o644)
				s.run(sh, tc.script, map[string]string{
					"/etc/uci-defaults/99-wanlb": defaults,
					"/etc/init.d/wanlb":          s.fakeInit(),
					"/etc/init.d/rpcd":           s.fake("rpcd", ""),
					"/tmp/luci-indexcache":       cache,
				}, tc.env, tc.args...)
				got := s.calls()
				if got[0] == "" {
					got = nil
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("calls %q, want %q", got, tc.want)
				}
				_, err := os.Stat(defaults)
				if ran := len(tc.want) > 0; ran == !os.IsNotExist(err) {
					t.Errorf("uci-defaults script left: %v, want %v", !os.IsNotExist(err), !ran)
				}
				if _, err := os.Stat(cache + ".abc.json"); (len(tc.want) > 0) != os.IsNotExist(err) {
					t.Errorf("LuCI index cache removed: %v", os.IsNotExist(err))
				}
			})
		}
	}
}

func TestPrerm(t *testing.T) {
	needHostShell(t)
	sc := WanlbScripts()
	remove := []string{"init stop", "init disable", "pidof wanlb", "wanlb flush"}
	for _, tc := range []struct {
		name   string
		script []byte
		cwd    string
		args   []string
		env    []string
		want   []string
	}{
		{"opkg remove", sc.Prerm, "", []string{"remove"}, nil, remove},
		{"opkg upgrade", sc.Prerm, "", []string{"upgrade", "1.2.3"}, []string{"PKG_UPGRADE=1"}, nil},
		{"opkg upgrade without PKG_UPGRADE", sc.Prerm, "", []string{"upgrade", "1.2.3"}, nil, nil},
		{"opkg on the router", sc.Prerm, "", []string{"remove"}, []string{"PKG_ROOT=/"}, remove},
		{"opkg image build", sc.Prerm, "", []string{"remove"}, []string{"IPKG_INSTROOT=/build/root"}, nil},
		{"opkg offline root", sc.Prerm, "", []string{"remove"}, []string{"PKG_ROOT=/build/root/"}, nil},
		{"apk remove", sc.PreDeinstall, "/", []string{"1.2.0-r1"}, nil, remove},
		{"apk offline root remove", sc.PreDeinstall, "", []string{"1.2.0-r1"}, nil, nil},
	} {
		for _, sh := range shells() {
			t.Run(tc.name+"/"+filepath.Base(sh[len(sh)-1]), func(t *testing.T) {
				s := newSandbox(t)
				s.cwd = tc.cwd
				s.run(sh, tc.script, map[string]string{
					"/etc/init.d/wanlb":    s.fakeInit(),
					"/usr/sbin/wanlb":      s.fake("wanlb", ""),
					"/tmp/luci-indexcache": filepath.Join(s.dir, "cache"),
				}, tc.env, tc.args...)
				got := s.calls()
				if got[0] == "" {
					got = nil
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("calls %q, want %q", got, tc.want)
				}
			})
		}
	}
}

// The LuCI view, run in node with stand-ins for LuCI's globals: the link
// goes to the port of wanlb.ui.listen on the host LuCI was loaded from,
// https:// when the daemon's ui.json says the UI serves TLS.
func TestLuCIRedirect(t *testing.T) {
	needHostShell(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	js, err := os.ReadFile(filepath.Join(repoRoot(t), "files/www/luci-static/resources/view/wanlb/redirect.js"))
	if err != nil {
		t.Fatal(err)
	}
	harness := `
const fs = require('fs');
const src = fs.readFileSync(process.argv[2], 'utf8');
const cfg = JSON.parse(process.argv[3]);
global.window = { location: { hostname: process.argv[4] } };
const L = { toArray: v => v == null ? [] : Array.isArray(v) ? v : String(v).split(/\s+/) };
const E = (tag, attrs, children) => ({ tag, attrs, children });
const _ = s => s;
const view = { extend: o => o };
L.resolveDefault = (p, d) => p.catch(() => d);
const uci = { load: p => Promise.resolve(p), get: (p, s, o) => (cfg[s] || {})[o] };
// rpcd's file.read: the daemon's ui.json (argv[5]; '' when there is none).
let readPath = null;
const rfs = { read: p => { readPath = p; return process.argv[5] ? Promise.resolve(process.argv[5]) : Promise.reject(new Error('NotFoundError')); } };
const v = new Function('L', 'E', '_', 'view', 'uci', 'fs', 'window', src)(L, E, _, view, uci, rfs, global.window);
v.load().then(data => {
	const loaded = data[0];
	const out = JSON.stringify(v.render(data));
	const href = (out.match(/"href":"([^"]*)"/) || [])[1] || '';
	if (readPath != '/var/run/wanlb/ui.json') throw new Error('read ' + readPath);
	console.log(JSON.stringify({ loaded, href, warning: out.includes('alert-message') }));
});
`
	hp := filepath.Join(t.TempDir(), "harness.js")
	if err := os.WriteFile(hp, []byte(harness), 0o644); err != nil {
		t.Fatal(err)
	}
	viewPath := filepath.Join(t.TempDir(), "redirect.js")
	os.WriteFile(viewPath, js, 0o644)
	const httpInfo, httpsInfo = `{"scheme":"http","addresses":["192.168.1.1:8088"]}`, `{"scheme":"https","addresses":["192.168.1.1:8088"]}`
	for _, tc := range []struct {
		cfg, host, want string
		info            string
	}{
		{`{}`, "192.168.1.1", `{"loaded":"wanlb","href":"http://192.168.1.1:8088/","warning":false}`, httpInfo},
		{`{"ui":{"listen":["lan:9000"]}}`, "router.lan", `{"loaded":"wanlb","href":"http://router.lan:9000/","warning":false}`, httpInfo},
		{`{"ui":{"listen":"lan:8088 wan:8089"}}`, "10.0.0.1", `{"loaded":"wanlb","href":"http://10.0.0.1:8088/","warning":false}`, httpInfo},
		{`{"ui":{"listen":["192.168.8.1:8443"]}}`, "router.lan", `{"loaded":"wanlb","href":"http://192.168.8.1:8443/","warning":false}`, httpInfo},
		{`{"ui":{"listen":["0.0.0.0:8088"]}}`, "fd00::1", `{"loaded":"wanlb","href":"http://[fd00::1]:8088/","warning":false}`, httpInfo},
		{`{"ui":{"enabled":"0"}}`, "192.168.1.1", `{"loaded":"wanlb","href":"","warning":true}`, ""},
		// TLS: uhttpd's certificate exists, the daemon serves HTTPS only.
		{`{}`, "192.168.1.1", `{"loaded":"wanlb","href":"https://192.168.1.1:8088/","warning":false}`, httpsInfo},
		{`{"ui":{"listen":["192.168.8.1:8443"]}}`, "router.lan", `{"loaded":"wanlb","href":"https://192.168.8.1:8443/","warning":false}`, httpsInfo},
		// No daemon (no ui.json): a plain link and a warning.
		{`{}`, "192.168.1.1", `{"loaded":"wanlb","href":"http://192.168.1.1:8088/","warning":true}`, ""},
	} {
		out, err := exec.Command(node, hp, viewPath, tc.cfg, tc.host, tc.info).CombinedOutput()
		if err != nil {
			t.Fatalf("node: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("config %s on %s, ui.json %q: %s, want %s", tc.cfg, tc.host, tc.info, got, tc.want)
		}
	}
}
