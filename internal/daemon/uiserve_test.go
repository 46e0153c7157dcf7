package daemon

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/config"
)

// opensslPair makes /etc/uhttpd.crt and .key the way uhttpd's init
// script does with openssl (DER certificate); derKey also turns the key
// into DER as px5g writes it (SEC1).
func opensslPair(t *testing.T, derKey bool) (cert, key string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not installed")
		}
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("req", "-x509", "-sha256", "-outform", "der", "-nodes", "-days", "730", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-keyout", "uhttpd.key", "-out", "uhttpd.crt", "-subj", "/C=ZZ/ST=Somewhere/L=Unknown/O=OpenWrt/CN=OpenWrt")
	if derKey {
		run("ec", "-in", "uhttpd.key", "-outform", "der", "-out", "uhttpd.der")
		os.Rename(filepath.Join(dir, "uhttpd.der"), filepath.Join(dir, "uhttpd.key"))
	}
	return filepath.Join(dir, "uhttpd.crt"), filepath.Join(dir, "uhttpd.key")
}

func TestUIServesHTTPSWithOpenWrtsDERCertificate(t *testing.T) {
	for _, derKey := range []bool{false, true} {
		cert, key := opensslPair(t, derKey)
		d := uiDaemon(t, cert, key)
		addr := d.uiListeners[0].String()
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := c.Get("https://" + addr + "/index.html")
		if err != nil {
			t.Fatalf("DER key %v: https: %v", derKey, err)
		}
		resp.Body.Close()
		if resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "OpenWrt" || resp.StatusCode != http.StatusOK {
			t.Fatalf("served %d, TLS %v", resp.StatusCode, resp.TLS)
		}
		// HTTPS only: the API is not served in clear text.
		resp, err = (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/api/status")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
				t.Errorf("plain HTTP to the TLS port: %d %s", resp.StatusCode, body)
			}
		}
		d.stopUI()
	}
}

func TestUIRefusesACertificateItCannotUse(t *testing.T) {
	cert, _ := opensslPair(t, false)
	_, otherKey := opensslPair(t, true)
	ui := config.UI{Cert: cert, Key: otherKey}
	cfg, ps := UITLS(ui)
	if cfg != nil || len(ps) != 1 || ps[0].Warning || !strings.HasPrefix(ps[0].String(), "wanlb.ui.key: cannot be used: does not belong to the certificate (got '"+otherKey+"')") {
		t.Errorf("mismatched pair: %v %v", cfg, ps)
	}
	ui.Key = filepath.Join(t.TempDir(), "none")
	if cfg, ps := UITLS(ui); cfg != nil || len(ps) != 1 || !ps[0].Warning || ps[0].Option != "key" {
		t.Errorf("certificate without key: %v %v", cfg, ps)
	}
	ui.Cert = filepath.Join(t.TempDir(), "none")
	if cfg, ps := UITLS(ui); cfg != nil || len(ps) != 0 {
		t.Errorf("neither: %v %v", cfg, ps)
	}
	// The daemon serves nothing rather than falling back to clear text.
	d := New(Options{ConfigDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, Kernel{})
	d.cfg = &config.Config{UI: config.UI{Enabled: true, Listen: []string{"127.0.0.1:0"}, Auth: "system", SessionTimeout: time.Hour, Cert: cert, Key: otherKey}}
	d.startUI(t.Context())
	defer d.stopUI()
	if len(d.uiListeners) != 0 {
		t.Errorf("UI started with a broken certificate on %v", d.uiListeners)
	}
}

func TestListenWarnings(t *testing.T) {
	wans := map[string][]netip.Addr{"wan": {netip.MustParseAddr("198.18.11.2")}, "wanb": {netip.MustParseAddr("2001:db8::2")}}
	tests := []struct {
		listen string
		want   string
	}{
		{"lan:8088", ""},
		{"198.18.1.1:8088", ""},
		{"0.0.0.0:8088", "wanlb.ui.listen: warning: a wildcard address listens on every interface, the WANs' too; use the LAN address or 'lan:8088' (got '0.0.0.0:8088')"},
		{"[::]:8088", "wanlb.ui.listen: warning: a wildcard address"},
		{"198.18.11.2:8088", "wanlb.ui.listen: warning: is an address of WAN wan: the UI would face the internet"},
		{"[2001:db8::2]:8088", "is an address of WAN wanb"},
		{"wan:8088", "wanlb.ui.listen: warning: wan is a WAN: the UI would face the internet"},
	}
	for _, tt := range tests {
		ps := ListenWarnings([]string{tt.listen}, wans)
		switch {
		case tt.want == "" && len(ps) != 0:
			t.Errorf("%s: %v", tt.listen, ps)
		case tt.want != "" && (len(ps) != 1 || !strings.Contains(ps[0].String(), tt.want) || !ps[0].Warning):
			t.Errorf("%s: %v, want %q", tt.listen, ps, tt.want)
		}
	}
}

func TestListenNetwork(t *testing.T) {
	for addr, want := range map[string]string{"0.0.0.0:8088": "tcp4", "198.18.1.1:8088": "tcp4", "[::]:8088": "tcp6", "[2001:db8::1]:8088": "tcp6"} {
		if got := listenNetwork(addr); got != want {
			t.Errorf("listenNetwork(%s) = %s, want %s", addr, got, want)
		}
	}
	if addrs := (&Daemon{cfg: &config.Config{UI: config.UI{Listen: []string{"[::1]:8088", "127.0.0.1:8088"}}}}).listenAddrs(t.Context()); !slices.Equal(addrs, []string{"[::1]:8088", "127.0.0.1:8088"}) {
		t.Errorf("listenAddrs: %v", addrs)
	}
}

// LuCI's menu entry reads ui.json to link to https:// or http://.
func TestUIInfoTellsLuCIHowTheUIServes(t *testing.T) {
	cert, key := opensslPair(t, true)
	for _, tt := range []struct {
		cert, key, scheme string
	}{{cert, key, "https"}, {"/nonexistent/uhttpd.crt", "/nonexistent/uhttpd.key", "http"}} {
		runDir := t.TempDir()
		d := New(Options{ConfigDir: t.TempDir(), RunDir: runDir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, Kernel{})
		d.cfg = &config.Config{UI: config.UI{Enabled: true, Listen: []string{"127.0.0.1:0"}, Auth: "system", SessionTimeout: time.Hour, Cert: tt.cert, Key: tt.key}}
		d.startUI(t.Context())
		b, err := os.ReadFile(filepath.Join(runDir, UIInfoName))
		if want := `{"scheme":"` + tt.scheme + `","addresses":["` + d.uiListeners[0].String() + `"]}`; err != nil || string(b) != want {
			t.Errorf("ui.json: %s %v, want %s", b, err, want)
		}
		d.stopUI()
		if _, err := os.Stat(filepath.Join(runDir, UIInfoName)); !os.IsNotExist(err) {
			t.Errorf("ui.json left behind after the UI stopped: %v", err)
		}
	}
}

// uhttpd makes its certificate on its first start, maybe after wanlb's:
// the next reload (startUI) switches the UI to HTTPS, and a fixed
// certificate starts a UI that a broken one kept down.
func TestUIPicksUpANewCertificate(t *testing.T) {
	cert, key := opensslPair(t, true)
	dir := t.TempDir()
	ui := config.UI{Enabled: true, Listen: []string{"127.0.0.1:0"}, Auth: "system", SessionTimeout: time.Hour,
		Cert: filepath.Join(dir, "uhttpd.crt"), Key: filepath.Join(dir, "uhttpd.key")}
	d := New(Options{ConfigDir: t.TempDir(), RunDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, Kernel{})
	d.cfg = &config.Config{UI: ui}
	defer d.stopUI()
	scheme := func() string {
		b, _ := os.ReadFile(filepath.Join(d.opts.RunDir, UIInfoName))
		switch {
		case strings.Contains(string(b), "https"):
			return "https"
		case len(b) > 0:
			return "http"
		}
		return "none"
	}
	d.startUI(t.Context())
	if s := scheme(); s != "http" {
		t.Fatalf("without a certificate: %s", s)
	}
	os.WriteFile(ui.Cert, []byte("broken"), 0o644)
	os.WriteFile(ui.Key, []byte("broken"), 0o600)
	d.startUI(t.Context())
	if s := scheme(); s != "none" || len(d.uiListeners) != 0 {
		t.Fatalf("with a broken certificate: %s on %v", s, d.uiListeners)
	}
	for _, f := range [][2]string{{cert, ui.Cert}, {key, ui.Key}} {
		b, _ := os.ReadFile(f[0])
		os.WriteFile(f[1], b, 0o600)
	}
	d.startUI(t.Context())
	if s := scheme(); s != "https" {
		t.Fatalf("with uhttpd's certificate in place: %s", s)
	}
}
