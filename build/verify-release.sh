#!/bin/sh
# Proves that `make release` is reproducible: builds it twice, from two
# clones of HEAD at paths of different lengths, each with an empty Go build
# cache, and compares the checksums. Usage: build/verify-release.sh [VERSION]
set -eu
root=$(git rev-parse --show-toplevel)
version=${1:-$(git -C "$root" describe --tags --always 2>/dev/null || echo devel)}
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT

for tree in a second-tree; do
	git clone --quiet "$root" "$work/$tree"
	GOCACHE="$work/cache-$tree" make -C "$work/$tree" --no-print-directory release VERSION="$version"
done
if cmp "$work/a/dist/SHA256SUMS" "$work/second-tree/dist/SHA256SUMS"; then
	echo "reproducible: two builds of $(git -C "$root" rev-parse --short HEAD) as $version gave the same bytes"
else
	diff "$work/a/dist/SHA256SUMS" "$work/second-tree/dist/SHA256SUMS" >&2 || true
	exit 1
fi
