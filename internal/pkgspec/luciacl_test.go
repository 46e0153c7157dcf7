package pkgspec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/openwrttest"
)

// TestLuCIACLReadsUIInfo: with OpenWrt's real rpcd and the package's ACL,
// a LuCI user who has only the wanlb menu entry's ACL can read the
// daemon's ui.json (so the entry can link to https://), and no other file.
func TestLuCIACLReadsUIInfo(t *testing.T) {
	needHostShell(t)
	o := openwrttest.New(t)
	dir := t.TempDir()
	acl := filepath.Join(dir, "acl.d")
	conf := filepath.Join(dir, "config")
	os.MkdirAll(acl, 0o755)
	os.MkdirAll(conf, 0o755)
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "files/usr/share/rpcd/acl.d/luci-app-wanlb.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(acl, "luci-app-wanlb.json"), src, 0o644)
	hash, err := auth.HashSHA512Crypt("viewer password")
	if err != nil {
		t.Fatal(err)
	}
	// A LuCI user with the menu entry's ACL group only.
	os.WriteFile(filepath.Join(dir, "shadow"), []byte("root::0:0:99999:7:::\nviewer:"+hash+":0:0:99999:7:::\n"), 0o600)
	os.WriteFile(filepath.Join(conf, "rpcd"), []byte("config rpcd\n\toption socket /var/run/ubus/ubus.sock\n\toption timeout 30\n\n"+
		"config login\n\toption username 'viewer'\n\toption password '$p$viewer'\n\tlist read 'luci-app-wanlb'\n"), 0o644)
	sock := filepath.Join(dir, "ubus.sock")
	o.Run(t, `OW_RPCD_ACL_DIR=$1 ow_rpcd_up "$2" "$3" "$4"`, acl, sock, filepath.Join(dir, "shadow"), conf)
	// rpcd's /run is the state directory's run/: the daemon's file goes there.
	st := strings.TrimSpace(o.Run(t, `_ow_rpcddir "$(realpath -m "$1")"`, sock))
	info := `{"scheme":"https","addresses":["198.18.1.1:8088"]}`
	os.MkdirAll(filepath.Join(st, "run", "wanlb"), 0o755)
	if err := os.WriteFile(filepath.Join(st, "run", "wanlb", "ui.json"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}

	call := func(obj, method string, args map[string]any) (string, error) {
		b, _ := json.Marshal(args)
		out, err := o.Cmd(`ubus -s "$1" call "$2" "$3" "$4"`, sock, obj, method, string(b)).CombinedOutput()
		return string(out), err
	}
	out, err := call("session", "login", map[string]any{"username": "viewer", "password": "viewer password"})
	var login struct {
		Session string `json:"ubus_rpc_session"`
	}
	if err != nil || json.Unmarshal([]byte(out), &login) != nil || login.Session == "" {
		t.Fatalf("login: %v %s", err, out)
	}
	out, err = call("file", "read", map[string]any{"ubus_rpc_session": login.Session, "path": "/var/run/wanlb/ui.json"})
	var read struct {
		Data string `json:"data"`
	}
	if err != nil || json.Unmarshal([]byte(out), &read) != nil || read.Data != info {
		t.Errorf("the menu entry's ACL cannot read ui.json: %v %s", err, out)
	}
	for _, p := range []string{"/etc/shadow", "/var/run/wanlb/other", "/etc/config/wanlb"} {
		if out, err := call("file", "read", map[string]any{"ubus_rpc_session": login.Session, "path": p}); err == nil {
			t.Errorf("the menu entry's ACL reads %s: %s", p, out)
		}
	}
}
