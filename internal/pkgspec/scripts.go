package pkgspec

import (
	_ "embed"
	"strings"
)

// The opkg maintainer scripts; the apk ones are made from them.
var (
	//go:embed scripts/postinst
	postinst string
	//go:embed scripts/prerm
	prerm string
)

// apkGuard stops an apk script that runs for an offline root. apk runs
// package scripts with the target root as working directory: on the
// router that is "/" (also inside a chroot), while `apk add --root DIR
// --force-no-chroot` (building an image, or tests) runs them ON THE BUILD
// HOST with DIR as working directory and a clean environment, where
// /etc/init.d/wanlb, uci and the running daemon would be the host's.
// There is nothing to do then: the image build enables init scripts and
// uci-defaults run at first boot.
const apkGuard = `[ "$(pwd -P)" = / ] || exit 0
`

// body is script without its #! line and the comment block under it,
// which names opkg.
func body(script string) string {
	lines := strings.SplitAfter(script, "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], "#") {
		i++
	}
	return strings.Join(lines[i:], "")
}

// WanlbScripts are wanlb's maintainer scripts for both managers. They
// behave the same: install runs the first-run uci-defaults, enables and
// starts the service; upgrade restarts it when enabled (a service
// disabled on purpose stays disabled); removal stops it, which removes
// its kernel state, and checks with `wanlb flush`. For an offline root
// (opkg: IPKG_INSTROOT set; apk: working directory not "/") they do
// nothing.
func WanlbScripts() Scripts {
	head := func(what string) string {
		return "#!/bin/sh\n# wanlb " + what + " (apk, OpenWrt 25.12).\n" + apkGuard
	}
	return Scripts{
		Postinst:     []byte(postinst),
		Prerm:        []byte(prerm),
		PostInstall:  []byte(head("post-install: after the first install") + body(postinst)),
		PostUpgrade:  []byte(head("post-upgrade: after an upgrade") + "PKG_UPGRADE=1\n" + body(postinst)),
		PreDeinstall: []byte(head("pre-deinstall: before removal") + body(prerm)),
	}
}
