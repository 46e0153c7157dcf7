package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v5"
	"github.com/wanlb/wanlb/internal/config"
	"github.com/wanlb/wanlb/internal/uciconf"
)

// store is the config file, written through the one path `wanlb passwd`
// uses too; a written file is applied by reloading the daemon.
func (s *Server) store() config.Store {
	return config.Store{Dir: s.opts.ConfigDir, Reload: func(ctx context.Context) error {
		applied, problems, err := s.backend.Reload(ctx)
		if err != nil {
			return err
		}
		if !applied {
			return invalid{{Message: strings.Join(problems, "; ")}}
		}
		return nil
	}}
}

// edit runs change on the config file, validates the result and, when it
// is valid, writes it and makes the daemon apply it. Nothing is written
// when anything is invalid.
func (s *Server) edit(c *echo.Context, change func(f *uciconf.File) error) error {
	_, err := s.store().Edit(c.Request().Context(), change)
	var bad *config.InvalidError
	var refused invalid
	switch {
	case errors.As(err, &bad):
		return invalid(fieldErrors(bad.File, bad.Problems))
	case errors.As(err, &refused):
		return refused // the daemon did not take the written file
	}
	return err
}

// write decodes the body into req (when not nil) before edit takes the
// write lock, applies change to the config file through edit, and
// answers {"ok": true}.
func (s *Server) write(c *echo.Context, req any, change func(f *uciconf.File) error) error {
	if req != nil {
		if err := readJSON(c, req); err != nil {
			return err
		}
	}
	if err := s.edit(c, change); err != nil {
		return err
	}
	return ok(c, nil)
}

func ok(c *echo.Context, extra map[string]any) error {
	body := map[string]any{"ok": true}
	for k, v := range extra {
		body[k] = v
	}
	return c.JSON(http.StatusOK, body)
}

// encodeWANs writes each WAN entry of a request into the wan section it
// names; an unknown name refuses the whole request.
func encodeWANs[W any](f *uciconf.File, wans []W, name func(*W) string) error {
	for i := range wans {
		sec, err := wanSection(f, name(&wans[i]))
		if err != nil {
			return err
		}
		if err := config.Encode(sec, &wans[i]); err != nil {
			return err
		}
	}
	return nil
}

func wanSection(f *uciconf.File, name string) (*uciconf.Section, error) {
	s := f.Section(name)
	if !uciconf.ValidName(name) || s == nil || s.Type != "wan" {
		return nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("no wan section '%s'", name))
	}
	return s, nil
}

// The pages send every field of these two: a missing one is refused
// rather than written as 0.
type loadBalancingJSON struct {
	LoadBalancing  bool            `json:"load_balancing" uci:"load_balancing" wanlb:"required"`
	AppOptimized   bool            `json:"app_optimized" uci:"app_optimized" wanlb:"required"`
	BandwidthBased bool            `json:"bandwidth_based" uci:"bandwidth_based" wanlb:"required"`
	WANs           []balanceFields `json:"wans" wanlb:"required"`
}

type balanceFields struct {
	Name       string `json:"name" wanlb:"required"`
	Weight     int    `json:"weight" uci:"weight" wanlb:"required"`
	Upstream   int    `json:"upstream" uci:"upstream" wanlb:"required"`
	Downstream int    `json:"downstream" uci:"downstream" wanlb:"required"`
}

func (s *Server) putLoadBalancing(c *echo.Context) error {
	var req loadBalancingJSON
	return s.write(c, &req, func(f *uciconf.File) error {
		g, err := config.Singleton(f, "globals")
		if err != nil {
			return err
		}
		if err := config.Encode(g, &req); err != nil {
			return err
		}
		return encodeWANs(f, req.WANs, func(w *balanceFields) string { return w.Name })
	})
}

type onlineDetectionJSON struct {
	WANs []detectionFields `json:"wans" wanlb:"required"`
}

type detectionFields struct {
	Name        string   `json:"name" wanlb:"required"`
	Detection   string   `json:"detection" uci:"detection" wanlb:"required"`
	Track       []string `json:"track" uci:"track" wanlb:"required"`
	Reliability int      `json:"reliability" uci:"reliability" wanlb:"required"`
	Interval    float64  `json:"interval" uci:"interval" wanlb:"required"`
	Timeout     float64  `json:"timeout" uci:"timeout" wanlb:"required"`
	Down        int      `json:"down" uci:"down" wanlb:"required"`
	Up          int      `json:"up" uci:"up" wanlb:"required"`
	MaxLatency  int      `json:"max_latency" uci:"max_latency" wanlb:"required"`
	MaxLoss     int      `json:"max_loss" uci:"max_loss" wanlb:"required"`
	// Passive detection; written only when sent, so clients that
	// predate it leave the options as they are.
	Passive       *bool    `json:"passive"`
	PassiveWindow *float64 `json:"passive_window"`
}

// passiveJSON writes the passive options a client sent.
type passiveJSON struct {
	Passive bool `uci:"passive"`
}

type passiveWindowJSON struct {
	PassiveWindow float64 `uci:"passive_window"`
}

func (s *Server) putOnlineDetection(c *echo.Context) error {
	var req onlineDetectionJSON
	return s.write(c, &req, func(f *uciconf.File) error {
		if err := encodeWANs(f, req.WANs, func(w *detectionFields) string { return w.Name }); err != nil {
			return err
		}
		for _, w := range req.WANs {
			sec, _ := wanSection(f, w.Name)
			if w.Passive != nil {
				if err := config.Encode(sec, passiveJSON{*w.Passive}); err != nil {
					return err
				}
			}
			if w.PassiveWindow != nil {
				if err := config.Encode(sec, passiveWindowJSON{*w.PassiveWindow}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// entry is a link_backup or rule from a request body, decoded before
// the write lock is taken.
type entry any

// readEntry decodes a link_backup or rule body. Fields left out get the
// schema's defaults, those the daemon applies to a section without them.
func readEntry(c *echo.Context, typ string) (entry, error) {
	var e entry
	switch typ {
	case "link_backup":
		e = &linkBackupJSON{Enabled: config.DefaultBool(typ, "enabled"), Mode: config.Default(typ, "mode"),
			Trigger: config.Default(typ, "trigger"), Revert: config.DefaultBool(typ, "revert")}
	case "rule":
		e = &ruleJSON{Enabled: config.DefaultBool(typ, "enabled"), Proto: config.Default(typ, "proto"),
			Fallback: config.DefaultBool(typ, "fallback")}
	default:
		return nil, fmt.Errorf("no section type %q", typ)
	}
	if err := readJSON(c, e); err != nil {
		return nil, err
	}
	return e, nil
}

// nth returns the id-th section of typ from the :id parameter.
func nth(f *uciconf.File, typ, id string) (*uciconf.Section, int, error) {
	i, err := strconv.Atoi(id)
	list := f.OfType(typ)
	if err != nil || i < 0 || i >= len(list) {
		return nil, 0, echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("no %s %s", typ, id))
	}
	return list[i], i, nil
}

func (s *Server) addSection(typ string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		e, err := readEntry(c, typ)
		if err != nil {
			return err
		}
		var id int
		err = s.edit(c, func(f *uciconf.File) error {
			sec, err := f.Add(typ, "")
			if err != nil {
				return err
			}
			id = len(f.OfType(typ)) - 1
			return config.Encode(sec, e)
		})
		if err != nil {
			return err
		}
		return ok(c, map[string]any{"id": id})
	}
}

func (s *Server) editSection(typ string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		e, err := readEntry(c, typ)
		if err != nil {
			return err
		}
		return s.write(c, nil, func(f *uciconf.File) error {
			sec, _, err := nth(f, typ, c.Param("id"))
			if err != nil {
				return err
			}
			return config.Encode(sec, e)
		})
	}
}

func (s *Server) deleteSection(typ string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		return s.write(c, nil, func(f *uciconf.File) error {
			sec, _, err := nth(f, typ, c.Param("id"))
			if err != nil {
				return err
			}
			f.Remove(sec)
			return nil
		})
	}
}

// moveRule changes a rule's place in the order; rules are tried in file
// order, so this changes which rule wins.
func (s *Server) moveRule(c *echo.Context) error {
	var req struct {
		To int `json:"to" wanlb:"required"`
	}
	return s.write(c, &req, func(f *uciconf.File) error {
		sec, from, err := nth(f, "rule", c.Param("id"))
		if err != nil {
			return err
		}
		rules := f.OfType("rule")
		if req.To < 0 || req.To >= len(rules) {
			return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("to must be between 0 and %d", len(rules)-1))
		}
		rules = slices.Delete(rules, from, from+1)
		rules = slices.Insert(rules, req.To, sec)
		// Put the rules back into the places rules held, in the new order.
		k := 0
		for i, x := range f.Sections {
			if x.Type == "rule" {
				f.Sections[i] = rules[k]
				k++
			}
		}
		return nil
	})
}
