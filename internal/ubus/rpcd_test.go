package ubus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/openwrttest"
	"github.com/wanlb/wanlb/internal/ubus"
)

// TestRealRPCD calls OpenWrt's real ubusd and rpcd: what rpcd parses and
// answers proves the encoding both ways.
func TestRealRPCD(t *testing.T) {
	ow := openwrttest.New(t)
	hash, err := auth.HashSHA512Crypt("s3cret pw")
	if err != nil {
		t.Fatal(err)
	}
	sock := ow.RPCD(t, []openwrttest.RPCDLogin{{Username: "root", Hash: hash, Read: []string{"*"}, Write: []string{"*"}}}, nil)
	c := ubus.Client{Socket: sock, Timeout: 10 * time.Second}
	ctx := context.Background()

	reply, err := c.Call(ctx, "session", "login", ubus.Table{{"username", "root"}, {"password", "s3cret pw"}, {"timeout", 60}})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	sid, _ := reply["ubus_rpc_session"].(string)
	if len(sid) != 32 || reply["timeout"] != int64(60) {
		t.Fatalf("login reply: %#v", reply)
	}
	if data, _ := reply["data"].(map[string]any); data["username"] != "root" {
		t.Errorf("login reply data: %#v", reply["data"])
	}
	// A bool comes back as a bool: rpcd's access answer is an int8.
	reply, err = c.Call(ctx, "session", "access", ubus.Table{{"ubus_rpc_session", sid}, {"scope", "ubus"}, {"object", "session"}, {"function", "login"}})
	if err != nil || reply["access"] != true {
		t.Errorf("access: %#v, %v", reply, err)
	}
	_, err = c.Call(ctx, "session", "login", ubus.Table{{"username", "root"}, {"password", "wrong"}})
	if !errors.Is(err, ubus.StatusPermissionDenied) {
		t.Errorf("wrong password: %v, want permission denied", err)
	}
	_, err = c.Call(ctx, "session", "nosuchmethod", nil)
	if !errors.Is(err, ubus.StatusMethodNotFound) {
		t.Errorf("unknown method: %v", err)
	}
	_, err = c.Call(ctx, "nosuchobject", "x", nil)
	if !errors.Is(err, ubus.StatusNotFound) {
		t.Errorf("unknown object: %v", err)
	}

	// netifd's objects answer the same way (the kit's stand-in on a real
	// ubusd), which internal/netifd calls.
	bare := ubus.Client{Socket: ow.Ubusd(t), Timeout: 10 * time.Second}
	reply, err = bare.Call(ctx, "network.interface", "dump", nil)
	if _, ok := reply["interface"].([]any); err != nil || !ok {
		t.Errorf("network.interface dump: %#v, %v", reply, err)
	}
	_, err = bare.Call(ctx, "session", "login", ubus.Table{{"username", "root"}, {"password", "s3cret pw"}})
	if !errors.Is(err, ubus.StatusNotFound) {
		t.Errorf("login without rpcd: %v, want not found", err)
	}
}
