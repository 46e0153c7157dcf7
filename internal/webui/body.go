package webui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/labstack/echo/v5"
)

// Request bodies are read whole, then checked, and only then does a
// handler take the config write lock: a client that sends its body
// slowly holds up nobody else (the server's ReadTimeout ends it).

// readBody reads the request body, at most MaxBody bytes (limitBody).
func readBody(c *echo.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", MaxBody))
		}
		return nil, echo.NewHTTPError(http.StatusBadRequest, "reading the request body: "+err.Error())
	}
	return b, nil
}

// readJSON reads the body and decodes it into v with strictJSON.
func readJSON(c *echo.Context, v any) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	return strictJSON(b, v)
}

// strictJSON decodes body, one JSON object and nothing after it, into
// the struct v points to. Unlike encoding/json alone it refuses keys
// that match a field only when case is ignored ({"Weight":5}), unknown
// keys, null where a value belongs, and missing fields tagged
// `wanlb:"required"`; fields neither sent nor required keep the values v
// already holds (the defaults). Refusals name the field: "wans[1].weight".
func strictJSON(body []byte, v any) error {
	if !json.Valid(body) {
		return echo.NewHTTPError(http.StatusBadRequest, "the body must be one JSON object with nothing after it")
	}
	var bad invalid
	checkJSON(body, reflect.TypeOf(v).Elem(), "", &bad)
	if len(bad) > 0 {
		return bad
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalid{{Field: te.Field, Message: "must be a JSON " + jsonKind(te.Type)}}
		}
		return echo.NewHTTPError(http.StatusBadRequest, "invalid JSON: "+err.Error())
	}
	return nil
}

// checkJSON walks raw alongside the Go type it will be decoded into.
func checkJSON(raw []byte, t reflect.Type, path string, bad *invalid) {
	raw = bytes.TrimSpace(raw)
	name := path
	if name == "" {
		name = "body"
	}
	if string(raw) == "null" {
		*bad = append(*bad, fieldError{Field: name, Message: "must not be null"})
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			*bad = append(*bad, fieldError{Field: name, Message: "must be a JSON object"})
			return
		}
		fields := map[string]reflect.StructField{}
		for i := range t.NumField() {
			f := t.Field(i)
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
				fields[tag] = f
			}
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if _, ok := fields[k]; !ok {
				*bad = append(*bad, fieldError{Field: join(path, k), Message: "unknown field (names are case-sensitive)"})
			}
		}
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			v, sent := m[k]
			switch {
			case sent:
				checkJSON(v, fields[k].Type, join(path, k), bad)
			case fields[k].Tag.Get("wanlb") == "required":
				*bad = append(*bad, fieldError{Field: join(path, k), Message: "missing"})
			}
		}
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			*bad = append(*bad, fieldError{Field: name, Message: "must be a JSON list"})
			return
		}
		for i, it := range items {
			checkJSON(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i), bad)
		}
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Slice:
		return "list"
	case reflect.Struct:
		return "object"
	default:
		return "number"
	}
}
