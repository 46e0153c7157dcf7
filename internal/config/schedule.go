package config

import (
	"fmt"
	"strings"
	"time"
)

// Schedule is a link backup entry's effective time, in the router's local
// time. The zero Schedule is always in effect.
//
// A window whose stop is earlier than its start runs over midnight and
// belongs to the day it starts on: weekdays 'Fri', 22:00-06:00 is in effect
// from Friday 22:00 to Saturday 06:00 (xt_time's --contiguous, which is what
// people mean by "Friday night").
type Schedule struct {
	Days  [7]bool // indexed by time.Weekday; all false = every day
	Start int     // minutes after midnight
	Stop  int     // minutes after midnight; 24*60 = end of day
}

// AllDay is the window of an entry without start and stop times.
const allDay = 24 * 60

func (s Schedule) day(d time.Weekday) bool {
	if s.Days == [7]bool{} {
		return true
	}
	return s.Days[d]
}

// Contains reports whether t falls inside the schedule.
func (s Schedule) Contains(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if s.Start <= s.Stop {
		return s.day(t.Weekday()) && m >= s.Start && m < s.Stop
	}
	// Over midnight: the evening part of a listed day, or the morning
	// part of the day after a listed day.
	if m >= s.Start {
		return s.day(t.Weekday())
	}
	return m < s.Stop && s.day((t.Weekday()+6)%7)
}

// NextChange returns the first minute boundary after t at which Contains
// changes value, searching at most 8 days ahead; ok is false for a
// schedule that never changes. The daemon sets a timer with it.
func (s Schedule) NextChange(t time.Time) (time.Time, bool) {
	now := s.Contains(t)
	c := t.Truncate(time.Minute)
	for i := 0; i < 8*24*60; i++ {
		c = c.Add(time.Minute)
		if s.Contains(c) != now {
			return c, true
		}
	}
	return time.Time{}, false
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// parseWeekdays reads OpenWrt firewall style day lists: 'Mon Tue Fri'.
func parseWeekdays(s string) ([7]bool, error) {
	var days [7]bool
	for _, f := range strings.Fields(strings.ReplaceAll(s, ",", " ")) {
		d, ok := dayNames[strings.ToLower(f)]
		if !ok {
			return days, fmt.Errorf("unknown weekday %q (use Mon Tue Wed Thu Fri Sat Sun)", f)
		}
		days[d] = true
	}
	return days, nil
}

// parseClock reads 'HH:MM' into minutes after midnight. '24:00' is
// accepted as a stop time meaning the end of the day.
func parseClock(s string) (int, error) {
	var h, m int
	var rest string
	n, _ := fmt.Sscanf(s, "%d:%d%s", &h, &m, &rest)
	if n != 2 || len(s) < 4 || len(s) > 5 || s[len(s)-3] != ':' {
		return 0, fmt.Errorf("must be HH:MM")
	}
	if h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("must be a time of day between 00:00 and 24:00")
	}
	return h*60 + m, nil
}
