package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/wanlb/wanlb/internal/uciconf"
)

// TestTextRoundTrip: the text of typed values reads back into the same
// values, so the web API can show a Config and take it back unchanged.
func TestTextRoundTrip(t *testing.T) {
	tests := []struct{ weekdays, start, stop, ports string }{
		{"", "", "", "80"},
		{"fri,Mon sunday", "22:00", "06:00", "80 443 10000-20000"},
		{"Sat", "08:30", "", "1-65535,22"},
		{"", "", "18:00", ""},
	}
	for _, tt := range tests {
		text := "config wan 'wan'\nconfig wan 'wan2'\nconfig link_backup\n\toption primary 'wan'\n\toption backup 'wan2'\n" +
			opt("weekdays", tt.weekdays) + opt("start_time", tt.start) + opt("stop_time", tt.stop) +
			"config rule\n\toption proto 'tcp'\n\toption wan 'wan'\n\tlist dest_ip '198.18.0.0/15'\n\tlist dest_ip '198.18.0.1-198.18.0.9'\n\tlist src_ip '198.18.3.4'\n" + opt("dest_port", tt.ports)
		c, ps := parse(t, text)
		if c == nil {
			t.Fatalf("%s", lines(ps))
		}
		b, r := c.LinkBackups[0], c.Rules[0]
		start, stop := b.Schedule.ClockTexts()
		again := "config wan 'wan'\nconfig wan 'wan2'\nconfig link_backup\n\toption primary 'wan'\n\toption backup 'wan2'\n" +
			opt("weekdays", b.Schedule.WeekdaysText()) + opt("start_time", start) + opt("stop_time", stop) +
			"config rule\n\toption proto 'tcp'\n\toption wan 'wan'\n" + listOpts("dest_ip", AddrsText(r.DestIP)) + listOpts("src_ip", AddrsText(r.SrcIP)) + opt("dest_port", PortsText(r.DestPort))
		c2, ps := parse(t, again)
		if c2 == nil {
			t.Fatalf("%s\n%s", again, lines(ps))
		}
		if !reflect.DeepEqual(c, c2) {
			t.Errorf("%+v: read back differently:\n%s", tt, again)
		}
	}
}

func opt(name, v string) string {
	if v == "" {
		return ""
	}
	return "\toption " + name + " '" + v + "'\n"
}

func listOpts(name string, vs []string) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("\tlist " + name + " '" + v + "'\n")
	}
	return b.String()
}

func TestEncode(t *testing.T) {
	f, _ := uciconf.Parse(strings.NewReader("config wan 'wan'\n\toption label 'old'\n\toption custom 'x'\n\tlist track '198.18.0.1'\n"))
	sec := f.Section("wan")
	in := struct {
		Name     string   `json:"name"` // no uci tag: not written
		Enabled  bool     `uci:"enabled"`
		Label    string   `uci:"label"`
		Weight   int      `uci:"weight"`
		Interval float64  `uci:"interval"`
		Track    []string `uci:"track"`
	}{Name: "ignored", Enabled: false, Label: "", Weight: 7, Interval: 0.5}
	if err := Encode(sec, &in); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	f.WriteTo(&b)
	want := "\nconfig wan 'wan'\n\toption custom 'x'\n\toption enabled '0'\n\toption weight '7'\n\toption interval '0.5'\n\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	bad := []any{
		struct {
			X int `uci:"no_such_option"`
		}{},
		struct {
			W string `uci:"weight"`
		}{},
		struct {
			T string `uci:"track"`
		}{},
		42,
	}
	for _, v := range bad {
		if err := Encode(sec, v); err == nil {
			t.Errorf("Encode(%#v) took it", v)
		}
	}
}
