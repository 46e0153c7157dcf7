SHELL := /bin/bash
# wanlb build, test and benchmark entry points. `make test` is what CI runs
# (.ci/run); it installs the Debian packages it needs by itself.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/wanlb/wanlb/pkg/cli.Version=$(VERSION)
# No inlining: a ~17% smaller binary for routers' small flash (pkg/ipk.GCFlags).
GCFLAGS := -gcflags=all=-l
# Unit-test packages: everything but the namespace lab and the demo, which need root
# and a real kernel and so does not run under qemu-user.
UNIT_PKGS = $(shell $(GO) list ./... | grep -v -e '/pkg/lab$$' -e '/pkg/demo$$')
DEB_PKGS := iptables nftables busybox iproute2 iputils-ping conntrack dnsmasq-base qemu-user-static procps chromium nodejs iperf3
# OpenWrt's own fw4, ubus, rpcd, uci, opkg, apk-tools and pfSense's dpinger, built
# from source by the openwrt-tools kit beside the repository (internal/openwrttest).
OWT_KIT := $(wildcard ../shared/openwrt-tools/build)
FUZZTIME ?= 20s

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
else
	@echo "openwrt-tools kit not found beside the repository: tests of real OpenWrt parts will skip$(if $(filter true,$(CI)), (and fail in CI))"
endif

test: deps lint build-all unit lab fuzz qemu ipk

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -count=1 $(UNIT_PKGS)

# Namespace lab: real traffic through real namespaces. Needs root; in CI
# (CI=true) a skipped lab test is a failure.
lab:
	$(GO) test -count=1 -timeout 15m -v ./pkg/lab ./pkg/demo

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./pkg/uciconf
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./pkg/config

# Unit tests again on the routers' architectures, under qemu-user.
qemu:
	GOOS=linux GOARCH=mips   GOMIPS=softfloat CGO_ENABLED=0 $(GO) test -count=1 -exec qemu-mips-static    $(UNIT_PKGS)
	GOOS=linux GOARCH=mipsle GOMIPS=softfloat CGO_ENABLED=0 $(GO) test -count=1 -exec qemu-mipsel-static  $(UNIT_PKGS)
	GOOS=linux GOARCH=arm    GOARM=7          CGO_ENABLED=0 $(GO) test -count=1 -exec qemu-arm-static     $(UNIT_PKGS)
	GOOS=linux GOARCH=arm64                   CGO_ENABLED=0 $(GO) test -count=1 -exec qemu-aarch64-static $(UNIT_PKGS)

# Benchmarks in the lab (root): sizes, apply cost against per-rule iptables
# calls, distribution of weights, forwarding throughput, the daemon's RSS and
# CPU, failover and recovery times (medians of repeated runs; ~7 minutes).
# Prints every table and writes the same figures to BENCHMARKS.md.
BENCH = $(GO) test -count=1 -run '^$$' -timeout 20m ./pkg/lab -bench
bench: deps ipk
	@{ echo "# wanlb benchmarks"; echo; \
	  echo "Written by \`make bench\` on $$(date -u +%F): $$(nproc) cores ($$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), kernel $$(uname -r), $$(go version | cut -d' ' -f3), $$(iptables --version), $$(nft --version)."; echo; \
	  echo "## Binary and .ipk sizes"; echo; echo '```text'; $(GO) run ./cmd/mkipk footprint -out dist; echo '```'; echo; } > BENCHMARKS.md
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkApply$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkDistribution$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkThroughput$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkFootprint$$' -benchtime 1x
	WANLB_BENCH_REPORT=$(CURDIR)/BENCHMARKS.md $(BENCH) '^BenchmarkFailover$$' -benchtime 1x
	@echo; echo "wrote BENCHMARKS.md"

clean:
	rm -rf dist

# OpenWrt packages: dist/wanlb_<version>_<arch>.ipk for mips_24kc,
# mipsel_24kc, arm_cortex-a7_neon-vfpv4, aarch64_cortex-a53 and x86_64,
# built by cmd/mkipk (pkg/ipk) with the plain Go toolchain, then checked
# (format, control fields, modes, owners, ELF machine) by TestDistIPKs.
# The version comes from git (0.0.0-<commits>-g<hash> until a v* tag
# exists); IPK_VERSION=... overrides it.
ipk:
	$(GO) run ./cmd/mkipk all -out dist -files files -go $(GO) $(if $(IPK_VERSION),-version '$(IPK_VERSION)')
	WANLB_IPK_DIR=$(CURDIR)/dist $(GO) test -count=1 -run '^TestDistIPKs$$' ./pkg/ipk

# Binary and .ipk size per architecture, and whether the mipsel .ipk is
# within the 3.5 MB target.
footprint: ipk
	@$(GO) run ./cmd/mkipk footprint -out dist

.PHONY: ipk footprint

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
