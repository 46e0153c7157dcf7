package dataplane

import (
	"fmt"
	"os/exec"
)

// ChooseBackend resolves the config's globals.backend: "auto" is nftables
// wherever the kernel has nf_tables and nft is installed (OpenWrt 22.03 and
// later: fw4 needs both), else iptables. It runs no program: the kernel is
// asked over netlink and nft is only looked up on PATH, so a router
// without iptables never has one started.
func ChooseBackend(setting string) (string, error) {
	switch setting {
	case BackendNFTables, BackendIPTables:
		return setting, nil
	case "", "auto":
	default:
		return "", fmt.Errorf("unknown firewall backend %q", setting)
	}
	if err := NFTAvailable(); err != nil {
		return BackendIPTables, nil
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return BackendIPTables, nil
	}
	return BackendNFTables, nil
}

// NewKernel returns a DataPlane on the real kernel of the current network
// namespace with the firewall backend the setting selects (see
// ChooseBackend). The returned func releases it.
func NewKernel(setting string) (*DataPlane, func(), error) {
	backend, err := ChooseBackend(setting)
	if err != nil {
		return nil, nil, err
	}
	var fw Ruleset
	closeFW := func() {}
	switch backend {
	case BackendNFTables:
		if fw, closeFW, err = NewNFTables(); err != nil {
			return nil, nil, err
		}
	default:
		ipt, err := NewIPTables()
		if err != nil {
			return nil, nil, err
		}
		// Without ip6tables (a router built without IPv6) IPv6 is left
		// to the main table.
		var fw6 Firewall
		if ip6t, err := NewIP6Tables(); err == nil {
			fw6 = ip6t
		}
		fw = NewIPTablesRuleset(ipt, fw6)
	}
	nl, err := NewNetlink()
	if err != nil {
		closeFW()
		return nil, nil, err
	}
	return New(fw, nl, ProcSysctl{}), func() { nl.Close(); closeFW() }, nil
}

// BackendUsable reports why a backend cannot run here, without running
// any program: nftables needs nf_tables in the kernel and nft on PATH,
// iptables needs iptables-restore on PATH.
func BackendUsable(backend string) error {
	switch backend {
	case BackendNFTables:
		if err := NFTAvailable(); err != nil {
			return err
		}
		_, err := exec.LookPath("nft")
		return err
	case BackendIPTables:
		_, err := exec.LookPath("iptables-restore")
		return err
	}
	return fmt.Errorf("unknown firewall backend %q", backend)
}
