package openwrttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RPCDLogin is one `config login` section of rpcd's config: the user's
// crypt hash goes into the shadow file rpcd reads ('$p$<user>'), Read and
// Write name the ACL groups (acl.d) the session gets.
type RPCDLogin struct {
	Username string
	Hash     string // crypt(3) hash, e.g. from auth.HashSHA512Crypt
	Read     []string
	Write    []string
}

// RPCD starts OpenWrt's real ubusd and rpcd with these logins and extra
// acl.d files (file name -> JSON) and returns ubusd's socket. Everything
// stops when the test ends.
func (o *Tools) RPCD(t testing.TB, logins []RPCDLogin, acls map[string]string) string {
	t.Helper()
	// A short directory: unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "owrpcd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "config")
	acl := filepath.Join(dir, "acl.d")
	for _, d := range []string{conf, acl} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var shadow, rpcd strings.Builder
	rpcd.WriteString("config rpcd\n\toption socket /var/run/ubus/ubus.sock\n\toption timeout 30\n")
	for _, l := range logins {
		fmt.Fprintf(&shadow, "%s:%s:20000:0:99999:7:::\n", l.Username, l.Hash)
		fmt.Fprintf(&rpcd, "\nconfig login\n\toption username '%s'\n\toption password '$p$%s'\n", l.Username, l.Username)
		for _, g := range l.Read {
			fmt.Fprintf(&rpcd, "\tlist read '%s'\n", g)
		}
		for _, g := range l.Write {
			fmt.Fprintf(&rpcd, "\tlist write '%s'\n", g)
		}
	}
	files := map[string]string{
		filepath.Join(dir, "shadow"): shadow.String(),
		filepath.Join(conf, "rpcd"):  rpcd.String(),
	}
	for name, body := range acls {
		files[filepath.Join(acl, name)] = body
	}
	for name, body := range files {
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "ubus.sock")
	o.Run(t, `OW_RPCD_ACL_DIR="$4" ow_rpcd_up "$1" "$2" "$3"`, sock, filepath.Join(dir, "shadow"), conf, acl)
	return sock
}

// RPCDDown stops the rpcd and ubusd serving sock, as when rpcd is not
// running on a router.
func (o *Tools) RPCDDown(t testing.TB, sock string) {
	t.Helper()
	o.Run(t, `ow_rpcd_down "$1"`, sock)
}

// Ubusd starts OpenWrt's real ubusd with no rpcd on it (only the kit's
// netifd stand-in, publishing network.interface), as on a router whose
// rpcd is not running, and returns its socket. It needs a network
// namespace of its own, which it creates and removes.
func (o *Tools) Ubusd(t testing.TB) string {
	t.Helper()
	ns := o.Namespace(t)
	conf := t.TempDir()
	out := o.Run(t, `ow_fw4 "$1" "$2" print >/dev/null && printf '%s' "$OW_STATE_BASE/ns/$1/run/ubus/ubus.sock"`, ns, conf)
	return strings.TrimSpace(out)
}

// Namespace creates an empty network namespace for the test's kit
// processes (the kit keeps one ubusd per namespace) and removes it when
// the test ends.
func (o *Tools) Namespace(t testing.TB) string {
	t.Helper()
	ns := fmt.Sprintf("owub%dn%d", os.Getpid(), sessions.Add(1))
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", ns, err, out)
	}
	// Runs before ow_down's cleanup: the processes inside keep the
	// namespace alive until ow_down stops them.
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	return ns
}
