// Package pkgspec describes wanlb's OpenWrt package once: its files and
// their modes, maintainer scripts, dependencies, conffiles, version and
// target architectures. The writers for the two package managers take this
// description: internal/ipk (opkg, OpenWrt 23.05/24.10) and internal/apk (apk-tools
// v3, OpenWrt 25.12), so both packages install the same thing.
package pkgspec

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"
)

// File is one file of a package: Name is its absolute path on the
// router ("/usr/sbin/wanlb"), Mode its permission bits. Owner is root.
type File struct {
	Name string
	Mode int64
	Data []byte
}

// Scripts are the maintainer scripts, in each manager's terms. Empty
// ones are left out of the package.
type Scripts struct {
	// opkg: postinst after unpacking (install and upgrade, PKG_UPGRADE=1
	// on upgrade), prerm before removal or upgrade.
	Postinst, Prerm []byte
	// apk: post-install after a first install, post-upgrade after an
	// upgrade, pre-deinstall before removal (apk runs no removal script
	// of the old package on upgrade).
	PostInstall, PostUpgrade, PreDeinstall []byte
}

// Package is the whole description of one package for one architecture.
type Package struct {
	Name        string
	Version     string // X.Y.Z-rN, valid for opkg and apk (ValidVersion)
	Arch        string // OpenWrt's package architecture: mipsel_24kc
	Depends     []string
	Description string // first line: the summary
	URL         string
	Maintainer  string
	License     string
	Section     string
	Conffiles   []string // absolute paths, kept when changed on upgrade
	Scripts     Scripts
	Files       []File
	// ModTime is the time of every file (SOURCE_DATE_EPOCH): the same
	// inputs give the same package bytes.
	ModTime time.Time
}

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

// Arches are the targets of `make packages`: the common router CPUs of
// OpenWrt (MIPS 24Kc big- and little-endian without an FPU, ARMv7
// Cortex-A7, ARMv8 Cortex-A53) and x86_64. OpenWrt uses the same names
// for opkg and apk.
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
// mipsel package about 17% smaller (3.61 MB to about 3.05 MB with the web
// UI), for 8-16 MB flash; the daemon's hot path is in the kernel, its own
// work (probes, applies) is light. The Makefile's build-all, the lab's
// test binary and openwrt/wanlb/Makefile use the same flags.
const GCFlags = "-l"

// BuildTags of router builds. nethttpomithttp2 leaves HTTP/2 out of
// net/http: the web UI and the http(s):// probes speak HTTP/1.1, and the
// mipsel package is about 160 KB smaller (measured: the gzip'd binary
// went from 2,989,598 to 2,828,464 bytes).
const BuildTags = "nethttpomithttp2"

// Depends is what wanlb needs on OpenWrt and a default image of 23.05,
// 24.10 or 25.12 lacks, and no more (no ip-full, no shell helpers, no
// iptables: routes, rules and conntrack go through netlink, the firewall
// part through nftables). A default image has fw4 and so the `nft` CLI
// (nftables-json) and kmod-nft-core, which holds nft_numgen, nft_hash and
// nft_ct (OpenWrt's include/netfilter.mk, NFT_CORE).
//
//   - kmod-nf-conntrack-netlink: ctnetlink, to delete an offline WAN's
//     conntrack entries by mark.
//
// openwrt/wanlb/Makefile lists the same; a test keeps them equal.
var Depends = []string{
	"kmod-nf-conntrack-netlink",
}

// Conffiles are kept by both managers on upgrade when changed locally.
var Conffiles = []string{"/etc/config/wanlb"}

// Description of the package.
const Description = `Multi-WAN load balancing and link backup (failover)
Balances new connections over several internet uplinks by weight or
bandwidth, fails over within seconds when online detection finds an
uplink dead, and routes chosen traffic over chosen uplinks (policy
routing). Configured in /etc/config/wanlb and in its own web UI
(Network > Multi-WAN in LuCI). One static binary; the kernel does the
work with fwmarks, conntrack marks, a routing table per uplink and one
atomic nftables transaction per change.`

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
			return fmt.Errorf("pkgspec: %s: only regular files can be packaged", p)
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

// Wanlb describes the wanlb package for arch from the binary and the
// files/ tree.
func Wanlb(arch Arch, version string, bin []byte, filesDir string, mtime time.Time) (Package, error) {
	if !ValidVersion(version) {
		return Package{}, fmt.Errorf("pkgspec: version %q is not X.Y.Z-rN", version)
	}
	files, err := RouterFiles(filesDir)
	if err != nil {
		return Package{}, err
	}
	for _, f := range files {
		if f.Name == "/usr/sbin/wanlb" {
			return Package{}, fmt.Errorf("pkgspec: %s/usr/sbin/wanlb: the binary comes from the build", filesDir)
		}
	}
	files = append(files, File{Name: "/usr/sbin/wanlb", Mode: 0o755, Data: bin})
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return Package{
		Name:        "wanlb",
		Version:     version,
		Arch:        arch.Name,
		Depends:     append([]string(nil), Depends...),
		Description: Description,
		URL:         "https://github.com/wanlb/wanlb",
		Maintainer:  "wanlb developers <https://github.com/wanlb/wanlb>",
		Section:     "net",
		Conffiles:   append([]string(nil), Conffiles...),
		Scripts:     WanlbScripts(),
		Files:       files,
		ModTime:     mtime.UTC().Truncate(time.Second),
	}, nil
}
