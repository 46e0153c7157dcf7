// Package tlscert loads a TLS certificate and key the way OpenWrt writes
// them. uhttpd's init script makes /etc/uhttpd.crt and /etc/uhttpd.key
// with px5g (both DER: the key PKCS#1 for RSA, SEC1 for EC) or with
// `openssl req -x509 -outform der` (DER certificate, PEM PKCS#8 key);
// users install PEM ones too. crypto/tls reads only PEM.
package tlscert

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// Load reads a certificate (chain) and its private key, each in PEM or
// DER, and checks that they belong together.
func Load(certFile, keyFile string) (tls.Certificate, error) {
	certData, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyData, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	return Parse(certData, keyData)
}

// Error says which of the two is wrong.
type Error struct {
	Key bool // the key (or the pair); else the certificate
	Err error
}

func (e *Error) Error() string {
	if e.Key {
		return "key: " + e.Err.Error()
	}
	return "certificate: " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Parse is Load on the files' contents.
func Parse(certData, keyData []byte) (tls.Certificate, error) {
	chain, err := parseCerts(certData)
	if err != nil {
		return tls.Certificate{}, &Error{Err: err}
	}
	key, err := parseKey(keyData)
	if err != nil {
		return tls.Certificate{}, &Error{Key: true, Err: err}
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, &Error{Err: err}
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return tls.Certificate{}, &Error{Key: true, Err: errors.New("does not belong to the certificate")}
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// isPEM: PEM files start, after any blank space, with "-----BEGIN".
func isPEM(b []byte) bool { return bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) }

func parseCerts(b []byte) ([][]byte, error) {
	var ders [][]byte
	if isPEM(b) {
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type == "CERTIFICATE" {
				ders = append(ders, blk.Bytes)
			}
		}
		if len(ders) == 0 {
			return nil, errors.New("no CERTIFICATE block in the PEM file")
		}
	} else {
		// DER: one certificate or several back to back.
		certs, err := x509.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("neither PEM nor DER: %w", err)
		}
		if len(certs) == 0 {
			return nil, errors.New("empty file")
		}
		for _, c := range certs {
			ders = append(ders, c.Raw)
		}
	}
	for _, d := range ders {
		if _, err := x509.ParseCertificate(d); err != nil {
			return nil, err
		}
	}
	return ders, nil
}

func parseKey(b []byte) (crypto.Signer, error) {
	if isPEM(b) {
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				return nil, errors.New("no PRIVATE KEY block in the PEM file")
			}
			// openssl ecparam puts an EC PARAMETERS block first.
			if blk.Type == "PRIVATE KEY" || blk.Type == "RSA PRIVATE KEY" || blk.Type == "EC PRIVATE KEY" {
				if _, encrypted := blk.Headers["Proc-Type"]; encrypted {
					return nil, errors.New("the key is encrypted; the daemon cannot ask for a passphrase")
				}
				return parseKeyDER(blk.Bytes)
			}
			if blk.Type == "ENCRYPTED PRIVATE KEY" {
				return nil, errors.New("the key is encrypted; the daemon cannot ask for a passphrase")
			}
		}
	}
	return parseKeyDER(b)
}

// parseKeyDER tries the three encodings: PKCS#8, PKCS#1 (RSA), SEC1 (EC).
func parseKeyDER(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("unsupported key type %T", k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not an RSA or EC private key in PEM or DER (PKCS#1, PKCS#8, SEC1)")
}
