#!/usr/bin/env bash
# Installs the Debian tools the tests and benchmarks drive (fuse3, acl, bindfs, fio, iproute2, nftables, git, attr,
# chromium for the status page test, systemd's systemd-analyze for the unit check, util-linux's script and prlimit,
# python3 for a process that outlives its main thread, e2fsprogs and mount's losetup for a disk whose writes fail,
# sqlite3 and rsync for the real-tool workloads of RealToolsTests, stress-ng for the filesystem stressors of
# StressNgTests).
# Idempotent: installs only what is missing. Needs root (or sudo) and the Debian package registry.
set -euo pipefail
need=()
for pair in fusermount3:fuse3 setfacl:acl bindfs:bindfs fio:fio ip:iproute2 nft:nftables git:git getfattr:attr \
  chromium:chromium systemd-analyze:systemd script:bsdutils curl:curl prlimit:util-linux python3:python3 \
  mkfs.ext2:e2fsprogs losetup:mount sqlite3:sqlite3 rsync:rsync stress-ng:stress-ng; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
