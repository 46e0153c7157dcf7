package daemon

// repair restores wanlb's kernel state when someone else removed or
// changed it: `fw4 flush` (what /etc/init.d/firewall stop runs), `nft
// flush ruleset`, `nft delete table inet wanlb`, an iptables restart. It
// runs on the repair tick and, with the nftables backend, on every commit
// of another process; the check is cheap (a generation number over
// netlink while nothing changed), the re-apply one transaction.
func (d *Daemon) repair() {
	if d.desired == nil || d.kernel.DataPlane.Intact(d.desired) {
		return
	}
	d.log.Warn("wanlb's rules were removed or changed by someone else (firewall restart?); restoring them")
	d.kernel.DataPlane.RequestFullSync()
	d.replan("repair")
}
