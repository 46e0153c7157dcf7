package cli

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/netifd"
)

func TestCheckWarnsWhereTheUIFacesTheInternet(t *testing.T) {
	netifdIfaces = map[string]netifd.Interface{"wan2": {Name: "wan2", Up: true, Device: "wan2", Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.12.2/24")}}}
	defer func() { netifdIfaces = nil }()
	code, out, errOut := run(t, good+"\nconfig ui 'ui'\n\tlist listen '0.0.0.0:8088'\n\tlist listen '198.18.12.2:8088'\n\tlist listen 'wan1:8088'\n\tlist listen 'lan:8088'\n", "check")
	want := []string{
		"wanlb.ui.listen: warning: a wildcard address listens on every interface, the WANs' too; use the LAN address or 'lan:8088' (got '0.0.0.0:8088')",
		"wanlb.ui.listen: warning: is an address of WAN wan2: the UI would face the internet; use the LAN address or 'lan:8088' (got '198.18.12.2:8088')",
		"wanlb.ui.listen: warning: wan1 is a WAN: the UI would face the internet; use the LAN, e.g. 'lan:8088' (got 'wan1:8088')",
	}
	if code != ExitOK || !strings.Contains(out, "config ok") || errOut != strings.Join(want, "\n")+"\n" {
		t.Errorf("check: %d %q\n%s\nwant\n%s", code, out, errOut, strings.Join(want, "\n"))
	}
}

func TestCheckRefusesAnUnusableCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "uhttpd.crt"), filepath.Join(dir, "uhttpd.key")
	os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), 0o644)
	os.WriteFile(key, []byte("x"), 0o600)
	code, _, errOut := run(t, good+"\nconfig ui 'ui'\n\toption cert '"+cert+"'\n\toption key '"+key+"'\n", "check")
	if code != ExitProblem || !strings.HasPrefix(errOut, "wanlb.ui.cert: cannot be used: no CERTIFICATE block in the PEM file (got '"+cert+"')") {
		t.Errorf("check: %d %s", code, errOut)
	}
}
