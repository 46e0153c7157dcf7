package config

import (
	"fmt"
	"strings"
	"time"
)

// The UCI text of typed values, for those that show a Config (the web
// API): what the validator reads back into the same values.

var weekOrder = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// WeekdaysText is the weekdays option: "Mon Tue Fri", "" for every day.
func (s Schedule) WeekdaysText() string {
	var out []string
	for _, d := range weekOrder {
		if s.Days[d] {
			out = append(out, d.String()[:3])
		}
	}
	return strings.Join(out, " ")
}

// ClockTexts are the start_time and stop_time options, both "" for a
// schedule that covers the whole day.
func (s Schedule) ClockTexts() (start, stop string) {
	if s.Start == 0 && s.Stop == allDay {
		return "", ""
	}
	clock := func(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
	return clock(s.Start), clock(s.Stop)
}

// PortsText is a src_port or dest_port option: "80 443 10000-20000".
func PortsText(ps []PortRange) string {
	var out []string
	for _, p := range ps {
		if p.From == p.To {
			out = append(out, fmt.Sprint(p.From))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", p.From, p.To))
		}
	}
	return strings.Join(out, " ")
}

// AddrsText is a src_ip or dest_ip list.
func AddrsText(ms []AddrMatch) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.String())
	}
	return out
}

// TrackText is a WAN's track list as written.
func TrackText(ts []Target) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.Raw)
	}
	return out
}
