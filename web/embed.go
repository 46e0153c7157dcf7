// Package web holds the web UI's files, embedded in the binary.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files returns the UI's files (index.html, app.js, app.css) with the
// static directory as their root, ready for an http.FileServer.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// fs.Sub fails only for an invalid path; "static" is a constant.
		panic(err)
	}
	return sub
}
