#!/bin/sh
# Prints "X.Y.Z N COMMIT" for the wanlb tree in $1, as the package version
# X.Y.Z-rN that `make packages` gives it (internal/pkgspec.GitVersion): the
# last vX.Y.Z tag and the commits since it plus one, or 0.0.0 and the
# number of commits without a tag. Not a git checkout: "0.0.0 0 unknown".
src=${1:-.}
count=$(git -C "$src" rev-list --count HEAD 2>/dev/null) || { echo "0.0.0 0 unknown"; exit 0; }
commit=$(git -C "$src" rev-parse --short=7 HEAD 2>/dev/null)
describe=$(git -C "$src" describe --tags --long --abbrev=7 --match 'v[0-9]*' 2>/dev/null)
if [ -z "$describe" ]; then
	echo "0.0.0 $count $commit"
	exit 0
fi
# v1.2.0-3-gabc1234: tag, commits since, hash
since=${describe%-g*}
since=${since##*-}
tag=${describe%-*-g*}
tag=${tag#v}
# X[.Y[.Z]] from the leading numbers of the tag; missing parts are 0
nums=$(printf '%s\n' "$tag" | sed -n 's/^\([0-9][0-9]*\)\(\.[0-9][0-9]*\)\{0,1\}\(\.[0-9][0-9]*\)\{0,1\}.*/\1 \2 \3/p' | tr -d .)
set -- $nums 0 0 0
echo "$(( $1 + 0 )).$(( $2 + 0 )).$(( $3 + 0 )) $(( since + 1 )) $commit"
