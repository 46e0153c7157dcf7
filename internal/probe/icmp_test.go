package probe

import (
	"net"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Every raw ICMP socket on a device sees every ICMP packet: a probe must
// take only its own reply, or a WAN whose replies stopped could be judged
// alive by another probe's reply.
func TestIsEchoReply(t *testing.T) {
	const id, seq = 0x1234, 0x0042
	v4, v6 := net.ParseIP("198.18.100.1"), net.ParseIP("2001:db8:100::1")
	msg := func(typ icmp.Type, body icmp.MessageBody) []byte {
		b, err := (&icmp.Message{Type: typ, Body: body}).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	echo := func(id, seq int) *icmp.Echo { return &icmp.Echo{ID: id, Seq: seq, Data: []byte("wanlb")} }
	from := func(ip net.IP) net.Addr { return &net.IPAddr{IP: ip} }

	tests := []struct {
		name string
		pkt  []byte
		from net.Addr
		six  bool
		want bool
	}{
		{"IPv4 reply", msg(ipv4.ICMPTypeEchoReply, echo(id, seq)), from(v4), false, true},
		{"IPv4 reply from another address", msg(ipv4.ICMPTypeEchoReply, echo(id, seq)), from(net.ParseIP("198.18.100.2")), false, false},
		{"another probe's identifier", msg(ipv4.ICMPTypeEchoReply, echo(id+1, seq)), from(v4), false, false},
		{"another sequence number", msg(ipv4.ICMPTypeEchoReply, echo(id, seq+1)), from(v4), false, false},
		{"our own request seen on the socket", msg(ipv4.ICMPTypeEcho, echo(id, seq)), from(v4), false, false},
		{"destination unreachable", msg(ipv4.ICMPTypeDestinationUnreachable, &icmp.DstUnreach{Data: make([]byte, 28)}), from(v4), false, false},
		{"truncated", msg(ipv4.ICMPTypeEchoReply, echo(id, seq))[:3], from(v4), false, false},
		{"not an IP address", msg(ipv4.ICMPTypeEchoReply, echo(id, seq)), &net.UDPAddr{IP: v4}, false, false},
		{"IPv6 reply", msg(ipv6.ICMPTypeEchoReply, echo(id, seq)), from(v6), true, true},
		{"IPv6 reply from another address", msg(ipv6.ICMPTypeEchoReply, echo(id, seq)), from(net.ParseIP("2001:db8:100::2")), true, false},
		{"IPv6 request", msg(ipv6.ICMPTypeEchoRequest, echo(id, seq)), from(v6), true, false},
		{"IPv6 another identifier", msg(ipv6.ICMPTypeEchoReply, echo(id^0xff, seq)), from(v6), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proto, reply, dst := 1, icmp.Type(ipv4.ICMPTypeEchoReply), v4
			if tt.six {
				proto, reply, dst = 58, ipv6.ICMPTypeEchoReply, v6
			}
			if got := isEchoReply(tt.pkt, tt.from, proto, reply, dst, id, seq); got != tt.want {
				t.Errorf("isEchoReply = %v, want %v", got, tt.want)
			}
		})
	}
}
