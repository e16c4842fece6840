#!/usr/bin/env bash
# Prints the FUSE mounts (one "fstype mountpoint" line each) at or under DIR. scripts/test.sh runs every test with its
# own TMPDIR and checks only that directory afterwards: mounts that other programs own elsewhere are none of its business.
set -euo pipefail
dir=${1:?usage: fuse-mounts-under.sh DIR}
dir=$(readlink -f "$dir")
# /proc/self/mounts escapes spaces and other odd characters as \NNN; the directory is compared in that form too.
escaped=$(printf '%s' "$dir" | sed 's/\\/\\134/g; s/ /\\040/g; s/\t/\\011/g')
awk -v d="$escaped" '$3 ~ /^fuse/ && ($2 == d || index($2, d "/") == 1) { print $3, $2 }' /proc/self/mounts
