package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/auth"
	"github.com/wanlb/wanlb/internal/config"
)

// writeCert writes a self-signed certificate for 127.0.0.1, like the one
// uhttpd generates on a router.
func writeCert(t *testing.T, dir string) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "OpenWrt"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	cert, keyPath := filepath.Join(dir, "uhttpd.crt"), filepath.Join(dir, "uhttpd.key")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, keyPath
}

func uiDaemon(t *testing.T, cert, key string) *Daemon {
	d := New(Options{ConfigDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, Kernel{})
	hash, err := auth.HashSHA512Crypt("router password")
	if err != nil {
		t.Fatal(err)
	}
	d.cfg = &config.Config{UI: config.UI{Enabled: true, Listen: []string{"127.0.0.1:0"}, Auth: "password", PasswordHash: hash, SessionTimeout: time.Hour,
		Cert: cert, Key: key}}
	d.startUI(context.Background())
	t.Cleanup(d.stopUI)
	if len(d.uiListeners) != 1 {
		t.Fatalf("UI listens on %v", d.uiListeners)
	}
	return d
}

func TestUIServesHTTPSWithTheRouterCertificate(t *testing.T) {
	cert, key := writeCert(t, t.TempDir())
	d := uiDaemon(t, cert, key)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get("https://" + d.uiListeners[0].String() + "/index.html")
	if err != nil {
		t.Fatalf("https: %v", err)
	}
	defer resp.Body.Close()
	if resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "OpenWrt" || resp.StatusCode != http.StatusOK {
		t.Fatalf("served %d, TLS %v", resp.StatusCode, resp.TLS)
	}
	// The session cookie is Secure under TLS.
	resp, err = c.Post("https://"+d.uiListeners[0].String()+"/api/login", "application/json", strings.NewReader(`{"username":"root","password":"router password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusOK || len(cookies) != 1 || !cookies[0].Secure || !cookies[0].HttpOnly {
		t.Errorf("login over TLS: %d, cookies %+v", resp.StatusCode, cookies)
	}
}

func TestUIServesHTTPWithoutCertificate(t *testing.T) {
	d := uiDaemon(t, filepath.Join(t.TempDir(), "none.crt"), filepath.Join(t.TempDir(), "none.key"))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + d.uiListeners[0].String() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API without a session over HTTP: %d", resp.StatusCode)
	}
}
