package config

import (
	"testing"
	"time"
)

// An unset timeout follows the interval (two of them, at most 1 s); a set
// one is used as written, whatever the interval.
func TestTimeoutDefaultFollowsInterval(t *testing.T) {
	for _, tc := range []struct {
		name, opts string
		want       time.Duration
	}{
		{"defaults", "", time.Second},
		{"interval 0.2", "\toption interval '0.2'\n", 400 * time.Millisecond},
		{"interval 0.3", "\toption interval '0.3'\n", 600 * time.Millisecond},
		{"interval 0.5", "\toption interval '0.5'\n", time.Second},
		{"interval 10", "\toption interval '10'\n", time.Second},
		{"interval 0.2, timeout 1 set", "\toption interval '0.2'\n\toption timeout '1'\n", time.Second},
		{"interval 0.2, timeout 0.3 set", "\toption interval '0.2'\n\toption timeout '0.3'\n", 300 * time.Millisecond},
		{"interval 10, timeout 5 set", "\toption interval '10'\n\toption timeout '5'\n", 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ps := parse(t, "config wan 'wan'\n"+tc.opts)
			if c == nil {
				t.Fatalf("problems: %s", lines(ps))
			}
			if got := c.WANs[0].Timeout; got != tc.want {
				t.Errorf("timeout %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDefaultTimeout(t *testing.T) {
	for _, tc := range []struct{ interval, want time.Duration }{
		{MinInterval, 400 * time.Millisecond},
		{250 * time.Millisecond, 500 * time.Millisecond},
		{500 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{time.Hour, time.Second},
		{0, MinTimeout},
	} {
		if got := DefaultTimeout(tc.interval); got != tc.want {
			t.Errorf("DefaultTimeout(%s) = %s, want %s", tc.interval, got, tc.want)
		}
	}
}
