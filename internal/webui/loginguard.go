package webui

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"

	"github.com/labstack/echo/v5"
)

// jsonOnly guards POST /api/login against cross-site pages. A form on
// another site can send text/plain or form-encoded bodies without the
// browser asking first (no CORS preflight), and a text/plain body can be
// made to look like JSON with a tail (`{"username":"root","password":"x",
// "z":"=`): such logins would let any site lock the admin out through
// the failed-login limit. application/json needs a preflight, which this
// server never grants. So: only application/json, and nothing after the
// JSON value.
func jsonOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return echo.NewHTTPError(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		}
		body, err := readBody(c)
		if err != nil {
			return err
		}
		if !json.Valid(body) {
			return echo.NewHTTPError(http.StatusBadRequest, "the body must be one JSON object with nothing after it")
		}
		r.Body = readCloser{bytes.NewReader(body)}
		return next(c)
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
