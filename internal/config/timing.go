package config

import "time"

// DefaultTimeout is a WAN's probe timeout when its `timeout` option is
// unset: 1 s, or two intervals when that is shorter (0.4 s at the
// shortest interval, 0.2 s). A silently dead uplink is offline at the
// latest down × interval + timeout after it dies, so with a fixed 1 s the
// timeout alone would be most of a fast profile's detection (1.6 s at
// interval 0.2, down 3); two intervals bring that to 1 s and still give an
// answer twice the time between rounds, with the second-chance probe at
// half of it. An explicit `timeout` is always used as written (slow links,
// satellite, should set one).
func DefaultTimeout(interval time.Duration) time.Duration {
	return max(MinTimeout, min(time.Second, 2*interval))
}

// isSet reports whether the section gives the option a value.
func (r *section) isSet(name string) bool {
	if r.s == nil {
		return false
	}
	o, ok := r.s.Get(name)
	return ok && len(o.Values) > 0
}
