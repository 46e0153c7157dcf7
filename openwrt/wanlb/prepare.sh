#!/bin/sh
# Copies the wanlb source tree $1 into the OpenWrt build directory $2, as
# it is now: everything but version control, build output and node
# modules (the web UI's test tools). golang-package.mk then takes the Go
# sources, go.mod/go.sum and web/static/ (GO_PKG_INSTALL_EXTRA) from there.
set -e
src=$1 dest=$2
[ -f "$src/go.mod" ] && grep -q '^module github.com/wanlb/wanlb$' "$src/go.mod" || {
	echo "wanlb: $src is not the wanlb source tree (set WANLB_SRC)" >&2
	exit 1
}
mkdir -p "$dest"
tar -C "$src" --exclude=./.git --exclude=./dist --exclude=node_modules --exclude=./.go_work -cf - . | tar -C "$dest" -xf -
