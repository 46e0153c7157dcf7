package ipk

import (
	"debug/elf"
	_ "embed"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Arch is one OpenWrt package architecture wanlb is built for.
type Arch struct {
	Name   string   // OpenWrt's name: mips_24kc
	GOARCH string   // mips
	Env    []string // GOMIPS=softfloat, GOARM=7
	// What the binary must be: checked in the tests.
	Machine elf.Machine
	Order   binary.ByteOrder
	Class   elf.Class
}

// Arches are the targets of `make ipk`: the common router CPUs of
// OpenWrt 23.05/24.10 (MIPS 24Kc big- and little-endian without an FPU,
// ARMv7 Cortex-A7, ARMv8 Cortex-A53) and x86_64.
var Arches = []Arch{
	{"mips_24kc", "mips", []string{"GOMIPS=softfloat"}, elf.EM_MIPS, binary.BigEndian, elf.ELFCLASS32},
	{"mipsel_24kc", "mipsle", []string{"GOMIPS=softfloat"}, elf.EM_MIPS, binary.LittleEndian, elf.ELFCLASS32},
	{"arm_cortex-a7_neon-vfpv4", "arm", []string{"GOARM=7"}, elf.EM_ARM, binary.LittleEndian, elf.ELFCLASS32},
	{"aarch64_cortex-a53", "arm64", nil, elf.EM_AARCH64, binary.LittleEndian, elf.ELFCLASS64},
	{"x86_64", "amd64", nil, elf.EM_X86_64, binary.LittleEndian, elf.ELFCLASS64},
}

// ArchByName returns the Arch called name.
func ArchByName(name string) (Arch, bool) {
	for _, a := range Arches {
		if a.Name == name {
			return a, true
		}
	}
	return Arch{}, false
}

// GCFlags are the compiler flags of router builds: no inlining makes the
// mipsel .ipk about 17% smaller (3.61 MB to about 3.05 MB with the web UI),
// which keeps it under its 3.5 MB budget on 8-16 MB flash; the daemon's hot
// path is in the kernel, its own work (probes, applies) is light. The
// Makefile's build-all and the lab's test binary use the same flags.
const GCFlags = "-l"

// Depends is what the data plane needs on OpenWrt 23.05/24.10, and no
// more (no ip-full, no shell helpers: routes, rules and conntrack go
// through netlink). openwrt/wanlb/Makefile lists the same; a test keeps
// them equal.
//
//   - iptables: iptables and iptables-restore. A virtual package: opkg
//     picks iptables-nft on fw4 systems (the default since 22.03), and
//     iptables-zz-legacy on fw3 systems satisfies it too. Its built-in
//     extensions cover -p tcp/udp/icmp, mark/MARK, comment, multiport and
//     conntrack (kernel side in kmod-ipt-core and kmod-ipt-conntrack).
//   - iptables-mod-conntrack-extra: -m connmark and -j CONNMARK (pulls
//     kmod-ipt-conntrack-extra and kmod-ipt-conntrack).
//   - iptables-mod-ipopt: -m statistic, the weighted random choice of a
//     WAN (pulls kmod-ipt-ipopt).
//   - iptables-mod-iprange: -m iprange for policy rules with a-b address
//     ranges (pulls kmod-ipt-iprange).
//   - iptables-mod-u32: -m u32, the source+destination buckets of
//     app_optimized (pulls kmod-ipt-u32). HMARK would hash better, but
//     OpenWrt packages no HMARK.
//   - kmod-nf-conntrack-netlink: ctnetlink, to delete an offline WAN's
//     conntrack entries by mark.
var Depends = []string{
	"iptables",
	"iptables-mod-conntrack-extra",
	"iptables-mod-ipopt",
	"iptables-mod-iprange",
	"iptables-mod-u32",
	"kmod-nf-conntrack-netlink",
}

// Conffiles are kept by opkg on upgrade when changed.
var Conffiles = []string{"/etc/config/wanlb"}

// Description of the package.
const Description = `Multi-WAN load balancing and link backup (failover)
Balances new connections over several internet uplinks by weight or
bandwidth, fails over within seconds when online detection finds an
uplink dead, and routes chosen traffic over chosen uplinks (policy
routing). Configured in /etc/config/wanlb and in its own web UI
(Network > Multi-WAN in LuCI). One static binary; the kernel does the
work with fwmarks, connmark, a routing table per uplink and one atomic
iptables-restore per change.`

//go:embed scripts/postinst
var postinst []byte

//go:embed scripts/prerm
var prerm []byte

// Scripts returns the control scripts: postinst and prerm.
func Scripts() (postinstScript, prermScript []byte) {
	return append([]byte(nil), postinst...), append([]byte(nil), prerm...)
}

// RouterFiles reads the tree that lands on the router (the repository's
// files/ directory) with the modes it gets there: executables (init
// scripts, uci-defaults) 0755, everything else 0644.
func RouterFiles(dir string) ([]File, error) {
	var out []File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("ipk: %s: only regular files can be packaged", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name := "/" + filepath.ToSlash(rel)
		out = append(out, File{Name: name, Mode: RouterMode(name), Data: data})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// RouterMode is the mode a file of files/ gets on the router.
func RouterMode(name string) int64 {
	switch path.Dir(name) {
	case "/etc/init.d", "/etc/uci-defaults", "/usr/sbin", "/usr/bin", "/sbin", "/bin":
		return 0o755
	}
	return 0o644
}

// Wanlb assembles the wanlb package for arch from the binary and the
// files/ tree.
func Wanlb(arch Arch, version string, bin []byte, filesDir string, mtime time.Time) (Package, error) {
	files, err := RouterFiles(filesDir)
	if err != nil {
		return Package{}, err
	}
	for _, f := range files {
		if f.Name == "/usr/sbin/wanlb" {
			return Package{}, fmt.Errorf("ipk: %s/usr/sbin/wanlb: the binary comes from the build", filesDir)
		}
	}
	files = append(files, File{Name: "/usr/sbin/wanlb", Mode: 0o755, Data: bin})
	pi, pr := Scripts()
	return Package{
		Control: Control{
			Package:      "wanlb",
			Version:      version,
			Depends:      append([]string(nil), Depends...),
			Source:       "https://github.com/wanlb/wanlb",
			SourceName:   "wanlb",
			Section:      "net",
			Priority:     "optional",
			Maintainer:   "wanlb developers <https://github.com/wanlb/wanlb>",
			Architecture: arch.Name,
			Description:  Description,
		},
		Conffiles: append([]string(nil), Conffiles...),
		Postinst:  pi,
		Prerm:     pr,
		Files:     files,
		ModTime:   mtime.UTC().Truncate(time.Second),
	}, nil
}

// SanitizeVersion turns what git says into a version opkg accepts:
// describe is `git describe --tags --long --match 'v[0-9]*'` output
// ("v1.2.0-3-gabc1234"), empty when there is no such tag; count and hash
// are `git rev-list --count HEAD` and the short commit hash, used when
// there is no tag ("0.0.0-<count>-g<hash>"); dirty appends "+dirty". With
// nothing from git at all it is "0.0.0".
func SanitizeVersion(describe string, count int, hash string, dirty bool) string {
	v := strings.TrimPrefix(strings.TrimSpace(describe), "v")
	if v == "" {
		switch {
		case hash != "":
			v = fmt.Sprintf("0.0.0-%d-g%s", count, hash)
		default:
			v = "0.0.0"
		}
	}
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '.', r == '+', r == '~', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('.')
		}
	}
	v = b.String()
	for strings.Contains(v, "--") {
		v = strings.ReplaceAll(v, "--", "-")
	}
	v = strings.Trim(v, "-.")
	if v == "" || v[0] < '0' || v[0] > '9' {
		v = "0.0.0-" + v
		v = strings.TrimSuffix(v, "-")
	}
	if dirty {
		v += "+dirty"
	}
	return v
}
