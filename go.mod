module github.com/wanlb/wanlb

go 1.24

require (
	github.com/coreos/go-iptables v0.8.0
	github.com/digineo/go-uci/v2 v2.0.0-20231120164223-60c14814b8fe
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	golang.org/x/sys v0.20.0
)
