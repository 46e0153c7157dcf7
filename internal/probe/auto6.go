package probe

import (
	"fmt"

	"github.com/wanlb/wanlb/internal/config"
)

// autoTargets6 is autoTargets for a WAN's IPv6 side: the same public anycast
// resolvers by their IPv6 addresses (Cloudflare, Google, Quad9,
// Cloudflare's second address), two by ICMPv6 echo and two by a DNS query
// for the root.
var autoTargets6 = []string{"2606:4700:4700::1111", "2001:4860:4860::8888", "dns://[2620:fe::fe]", "dns://[2606:4700:4700::1001]"}

// AutoTargets6 returns the targets detection 'auto' probes a WAN's IPv6
// side with: ICMPv6 echo to 2606:4700:4700::1111 and 2001:4860:4860::8888
// and a DNS query for "." to 2620:fe::fe and 2606:4700:4700::1001. The
// slice is fresh on every call.
func AutoTargets6() []config.Target {
	out := make([]config.Target, 0, len(autoTargets6))
	for _, s := range autoTargets6 {
		t, err := config.ParseTarget(s)
		if err != nil || !t.Is6() {
			panic(fmt.Sprintf("probe: built-in IPv6 target %q: %v", s, err))
		}
		out = append(out, t)
	}
	return out
}
