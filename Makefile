SHELL := /bin/bash
# wanlb build, test and benchmark entry points. `make test` is what CI runs
# (.ci/run); it installs the Debian packages it needs by itself.

GO      ?= go
# X.Y.Z-rN from the last v* tag (internal/pkgspec.GitVersion), computed once
# when first used; the binary also reports the commit.
VERSION ?= $(eval VERSION := $(shell $(GO) run ./cmd/mkpkg version 2>/dev/null || echo 0.0.0-r0))$(VERSION)
COMMIT   = $(eval COMMIT := $(shell git rev-parse --short=7 HEAD 2>/dev/null || echo unknown))$(COMMIT)
LDFLAGS  = -s -w -X 'github.com/wanlb/wanlb/internal/cli.Version=$(VERSION) (git $(COMMIT))'
# No inlining (~17% smaller) and no HTTP/2 in net/http (~160 KB smaller
# packages) for routers' small flash: internal/pkgspec.GCFlags and BuildTags.
GCFLAGS := -tags nethttpomithttp2 -gcflags=all=-l
# Unit-test packages: everything but the namespace lab and the demo, which need root
# and a real kernel and so does not run under qemu-user.
# The checks of the built packages run in `make packages`, not with the unit tests.
DIST_TESTS = ^(TestDistIPKs|TestDistAPKs)$$
UNIT_PKGS = $(shell $(GO) list ./... | grep -v -e '/internal/lab$$' -e '/internal/demo$$')
DEB_PKGS := iptables nftables busybox iproute2 iputils-ping conntrack dnsmasq-base qemu-user-static procps chromium nodejs iperf3 openssl build-essential cmake pkg-config libjson-c-dev
# OpenWrt's own fw4, ubus, rpcd, uci, opkg, apk-tools and pfSense's dpinger, built
# from source by the openwrt-tools kit beside the repository (internal/openwrttest).
OWT_KIT := $(wildcard ../shared/openwrt-tools/build)
# Fuzzing is budgeted in executions, not seconds: with a duration, Go's
# fuzz coordinator can fail a target with "context deadline exceeded" when a
# busy machine delays a worker at the deadline. FUZZX scales every budget.
FUZZX ?= 1

.PHONY: build build-all deps test unit lab qemu fuzz lint bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath $(GCFLAGS) -ldflags "$(LDFLAGS)" -o dist/wanlb ./cmd/wanlb

# Static binaries for the routers: MIPS without an FPU (softfloat), ARMv7, ARMv8, x86_64.
build-all:
	CGO_ENABLED=0 GOOS=linux GOARCH=mips   GOMIPS=softfloat $(GO) build -trimpath $(GCFLAGS) -ldflags "$(LDFLAGS)" -o dist/wanlb-mips   ./cmd/wanlb
	CGO_ENABLED=0 GOOS=linux GOARCH=mipsle GOMIPS=softfloat $(GO) build -trimpath $(GCFLAGS) -ldflags "$(LDFLAGS)" -o dist/wanlb-mipsle ./cmd/wanlb
	CGO_ENABLED=0 GOOS=linux GOARCH=arm    GOARM=7          $(GO) build -trimpath $(GCFLAGS) -ldflags "$(LDFLAGS)" -o dist/wanlb-arm    ./cmd/wanlb
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64                   $(GO) build -trimpath $(GCFLAGS) -ldflags "$(LDFLAGS)" -o dist/wanlb-arm64  ./cmd/wanlb
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64                   $(GO) build -trimpath $(GCFLAGS) -ldflags "$(LDFLAGS)" -o dist/wanlb-amd64  ./cmd/wanlb

# Installs the Debian packages the tests need, only when one is missing.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# playwright-core for the browser tests (no browser download: Debian's chromium is used)
	@[ -d web/e2e/node_modules/playwright-core ] || (cd web/e2e && npm ci --no-audit --no-fund --loglevel=error)
ifneq ($(OWT_KIT),)
	@$(OWT_KIT) >/dev/null || { echo "openwrt-tools build failed"; $(OWT_KIT); }
	@# OpenWrt's odhcpd for the lab's routed IPv6 test, from third_party/ (needs the kit's libubox and uci)
	@scripts/build-odhcpd
else
	@echo "openwrt-tools kit not found beside the repository: tests of real OpenWrt parts will skip$(if $(filter true,$(CI)), (and fail in CI))"
endif

test: deps lint build-all unit lab fuzz qemu packages footprint

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The daemon's state loop and the probe monitor are concurrent: race-checked.
unit:
	$(GO) test -count=1 -skip '$(DIST_TESTS)' $(UNIT_PKGS)
	$(GO) test -race -count=1 ./internal/daemon ./internal/monitor

# Namespace lab: real traffic through real namespaces. Needs root; in CI
# (CI=true) a skipped lab test is a failure.
lab:
	$(GO) test -p 1 -count=1 -timeout 15m -v ./internal/lab ./internal/demo

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $$((300000 * $(FUZZX)))x -fuzzminimizetime 3s ./internal/uciconf
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $$((300000 * $(FUZZX)))x -fuzzminimizetime 3s ./internal/config
	$(GO) test -run '^$$' -fuzz '^FuzzConfigAPI$$' -fuzztime $$((20000 * $(FUZZX)))x -fuzzminimizetime 3s ./internal/webui
	$(GO) test -run '^$$' -fuzz '^FuzzLogin$$' -fuzztime $$((60000 * $(FUZZX)))x -fuzzminimizetime 3s ./internal/webui

# Unit tests again on the routers' architectures, under qemu-user.
qemu:
	GOOS=linux GOARCH=mips   GOMIPS=softfloat CGO_ENABLED=0 WANLB_EMULATED=1 $(GO) test -count=1 -skip '$(DIST_TESTS)' -exec qemu-mips-static $(UNIT_PKGS)
	GOOS=linux GOARCH=mipsle GOMIPS=softfloat CGO_ENABLED=0 WANLB_EMULATED=1 $(GO) test -count=1 -skip '$(DIST_TESTS)' -exec qemu-mipsel-static $(UNIT_PKGS)
	GOOS=linux GOARCH=arm    GOARM=7          CGO_ENABLED=0 WANLB_EMULATED=1 $(GO) test -count=1 -skip '$(DIST_TESTS)' -exec qemu-arm-static $(UNIT_PKGS)
	GOOS=linux GOARCH=arm64                   CGO_ENABLED=0 WANLB_EMULATED=1 $(GO) test -count=1 -skip '$(DIST_TESTS)' -exec qemu-aarch64-static $(UNIT_PKGS)

# Benchmarks in the lab (root): sizes, apply cost against per-rule iptables
# calls, distribution of weights, forwarding throughput, the daemon's RSS and
# CPU, failover and recovery times (medians of repeated runs), the carrier
# path (link down to new rules), detection per profile and per target kind, the daemon's
# memory under a flood of its web UI (~8 minutes).
# Prints every table and writes the same figures to BENCHMARKS.md.
BENCH = $(GO) test -count=1 -run '^$$' -timeout 20m ./internal/lab -bench
bench: deps packages
	@{ echo "# wanlb benchmarks"; echo; \
	  echo "Written by \`make bench\` on $$(date -u +%F): $$(nproc) cores ($$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), kernel $$(uname -r), $$(go version | cut -d' ' -f3), $$(iptables --version), $$(nft --version)."; echo; \
	  echo "## Binary and package sizes"; echo; echo '```text'; $(GO) run ./cmd/mkpkg footprint -out dist; echo '```'; echo; } > BENCHMARKS.md
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkApply$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkDistribution$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkThroughput$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkFootprint$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkFailover$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkIPv6$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkCarrierPath$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkDetection$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkPassive$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkDaemonCPU$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkUIFlood$$' -benchtime 1x
	@echo; echo "wrote BENCHMARKS.md"

clean:
	rm -rf dist

# OpenWrt packages for mips_24kc, mipsel_24kc, arm_cortex-a7_neon-vfpv4,
# aarch64_cortex-a53 and x86_64, built by cmd/mkpkg with the plain Go
# toolchain: dist/wanlb_<version>_<arch>.ipk (opkg, 23.05/24.10, internal/ipk)
# and dist/apk/<arch>/wanlb-<version>.apk (apk v3, 25.12, internal/apk). Then
# checked: structure, modes, owners, ELF machine (TestDist*), and installed,
# upgraded and removed by OpenWrt's real opkg and apk in offline roots
# (TestOPKG*, TestAPK*; they need root and the openwrt-tools kit). The
# version is X.Y.Z-rN from the last v* tag and the commits since (0.0.0-r<n>
# without a tag); PKG_VERSION=X.Y.Z-rN overrides it.
packages:
	$(GO) run ./cmd/mkpkg all -out dist -files files -go $(GO) $(if $(PKG_VERSION),-version '$(PKG_VERSION)')
	WANLB_DIST_DIR=$(CURDIR)/dist $(GO) test -count=1 -run '^(TestDistIPKs|TestDistAPKs|TestOPKG.*|TestAPK.*)$$' ./internal/ipk ./internal/apk

# The old name.
ipk: packages

# Binary and package sizes per architecture; fails when the mipsel .ipk or
# .apk is over 3,000,000 bytes.
footprint: packages
	@$(GO) run ./cmd/mkpkg footprint -out dist

.PHONY: packages ipk footprint

# Live demo (root): three simulated ISPs (100, 50, 20 Mbit/s) in network
# namespaces behind the real daemon, with LAN traffic; the web UI on
# http://127.0.0.1:8088/ (root / wanlb-demo). Ctrl-C stops it and removes
# everything. From another terminal: make demo-break ISP=2 FAULT=blackhole
# (carrier, blackhole, loss, loss=30), make demo-heal ISP=2.
FAULT ?= blackhole

demo: deps build
	CGO_ENABLED=0 $(GO) build -trimpath -o dist/wanlb-lab ./cmd/wanlb-lab
	dist/wanlb-lab demo

demo-break:
	dist/wanlb-lab break isp$(ISP) $(FAULT)

demo-heal:
	dist/wanlb-lab heal isp$(ISP)

.PHONY: demo demo-break demo-heal
