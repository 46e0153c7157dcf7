package config

import "path/filepath"

// The web UI's certificate and key: uhttpd's by default, so the UI
// serves HTTPS with the router's own certificate when LuCI does.
const (
	DefaultUICert = "/etc/uhttpd.crt"
	DefaultUIKey  = "/etc/uhttpd.key"
)

// certFiles reads ui.cert and ui.key. Whether the files exist and can
// be loaded is the daemon's business (they may appear later, when uhttpd
// first starts); here they must be absolute paths.
func (r *section) certFiles() (cert, key string) {
	cert, key = r.str("cert"), r.str("key")
	for _, o := range []struct{ name, path string }{{"cert", cert}, {"key", key}} {
		if !filepath.IsAbs(o.path) || filepath.Clean(o.path) != o.path {
			r.fail(o.name, o.path, "must be an absolute path like '/etc/uhttpd.crt'")
		}
	}
	return cert, key
}
