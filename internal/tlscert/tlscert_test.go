package tlscert

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// openssl runs the real openssl in dir.
func openssl(t *testing.T, dir string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not installed")
		}
		t.Skip("openssl is not installed")
	}
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// uhttpdPair makes a certificate the way uhttpd's init script does with
// openssl: a DER certificate, the key PEM PKCS#8 (openssl's -outform
// applies to the certificate only). newkey is "rsa:2048" or "ec".
func uhttpdPair(t *testing.T, dir, newkey string) {
	args := []string{"req", "-x509", "-sha256", "-outform", "der", "-nodes", "-days", "730", "-newkey", newkey}
	if newkey == "ec" {
		args = append(args, "-pkeyopt", "ec_paramgen_curve:P-256")
	}
	openssl(t, dir, append(args, "-keyout", "uhttpd.key", "-out", "uhttpd.crt", "-subj", "/C=ZZ/ST=Somewhere/L=Unknown/O=OpenWrt/CN=OpenWrt")...)
}

func TestLoadsWhatOpenWrtWrites(t *testing.T) {
	tests := []struct {
		name   string
		newkey string
		// then, in the directory: turn the pair into another encoding
		convert [][]string
	}{
		{"openssl -outform der, EC", "ec", nil},
		{"openssl -outform der, RSA", "rsa:2048", nil},
		// px5g selfsigned -der writes both in DER, the key as mbedtls
		// does: PKCS#1 for RSA, SEC1 for EC.
		{"px5g-style DER, RSA PKCS#1", "rsa:2048", [][]string{{"rsa", "-in", "uhttpd.key", "-traditional", "-outform", "der", "-out", "uhttpd.key"}}},
		{"px5g-style DER, EC SEC1", "ec", [][]string{{"ec", "-in", "uhttpd.key", "-outform", "der", "-out", "uhttpd.key"}}},
		{"DER PKCS#8 key", "ec", [][]string{{"pkcs8", "-topk8", "-nocrypt", "-in", "uhttpd.key", "-outform", "der", "-out", "uhttpd.key"}}},
		{"PEM, RSA PKCS#1", "rsa:2048", [][]string{
			{"x509", "-inform", "der", "-in", "uhttpd.crt", "-outform", "pem", "-out", "uhttpd.crt"},
			{"rsa", "-in", "uhttpd.key", "-traditional", "-out", "uhttpd.key"}}},
		{"PEM, EC SEC1", "ec", [][]string{
			{"x509", "-inform", "der", "-in", "uhttpd.crt", "-outform", "pem", "-out", "uhttpd.crt"},
			{"ec", "-in", "uhttpd.key", "-out", "uhttpd.key"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			uhttpdPair(t, dir, tt.newkey)
			for _, c := range tt.convert {
				// Into a new file, then over the old one.
				out := c[len(c)-1]
				openssl(t, dir, append(c[:len(c)-1:len(c)-1], out+".new")...)
				if err := os.Rename(filepath.Join(dir, out+".new"), filepath.Join(dir, out)); err != nil {
					t.Fatal(err)
				}
			}
			// The files are what the case says: DER has no "-----BEGIN".
			for _, f := range []string{"uhttpd.crt", "uhttpd.key"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("%s: PEM %v, %d bytes", f, isPEM(b), len(b))
			}
			cert, err := Load(filepath.Join(dir, "uhttpd.crt"), filepath.Join(dir, "uhttpd.key"))
			if err != nil {
				t.Fatal(err)
			}
			handshake(t, cert)
		})
	}
}

// handshake serves cert over a TLS connection and checks the client got
// it: the server signs with the key, so a wrong key fails here.
func handshake(t *testing.T, cert tls.Certificate) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errc := make(chan error, 1)
	go func() { errc <- tls.Server(a, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake() }()
	c := tls.Client(b, &tls.Config{InsecureSkipVerify: true})
	if err := c.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if got := c.ConnectionState().PeerCertificates[0]; !bytes.Equal(got.Raw, cert.Certificate[0]) || got.Subject.CommonName != "OpenWrt" {
		t.Errorf("served %v", got.Subject)
	}
}

func TestRefusesBadPairs(t *testing.T) {
	dir := t.TempDir()
	uhttpdPair(t, dir, "ec")
	other := t.TempDir()
	uhttpdPair(t, other, "ec")
	openssl(t, dir, "pkcs8", "-topk8", "-passout", "pass:x", "-in", "uhttpd.key", "-out", "encrypted.key")
	os.WriteFile(filepath.Join(dir, "garbage"), []byte("not a certificate\n"), 0o644)
	tests := []struct {
		cert, key string
		isKey     bool
		msg       string
	}{
		{filepath.Join(dir, "uhttpd.crt"), filepath.Join(other, "uhttpd.key"), true, "does not belong"},
		{filepath.Join(dir, "uhttpd.crt"), filepath.Join(dir, "encrypted.key"), true, "encrypted"},
		{filepath.Join(dir, "garbage"), filepath.Join(dir, "uhttpd.key"), false, "neither PEM nor DER"},
		{filepath.Join(dir, "uhttpd.crt"), filepath.Join(dir, "garbage"), true, "not an RSA or EC private key"},
		{filepath.Join(dir, "uhttpd.key"), filepath.Join(dir, "uhttpd.key"), false, "no CERTIFICATE"},
	}
	for _, tt := range tests {
		_, err := Load(tt.cert, tt.key)
		var e *Error
		if !errors.As(err, &e) || e.Key != tt.isKey || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Load(%s, %s) = %v, want a %v error with %q", filepath.Base(tt.cert), filepath.Base(tt.key), err, map[bool]string{true: "key", false: "certificate"}[tt.isKey], tt.msg)
		}
	}
}
