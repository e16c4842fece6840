#!/usr/bin/env bash
# A cold sequential read through one dino-node, with the node's own CPU time per read (issue 10's A/B loop).
# usage: load/measure-cold-read.sh [REPO] [RUNS]   (REPO: a worktree whose Release build to run; default this one)
# Each run: 256 MiB of fresh /dev/urandom bytes written with dd bs=1M conv=fsync, sync, drop_caches, then read back
# with dd bs=1M; prints the wall time and dino-node's utime+stime over the read (10 ms resolution). Read 1 pays JIT.
# Needs root (FUSE mount, drop_caches). Bounded: RUNS reads (default 4), the node is stopped and unmounted at the end.
set -u
repo=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}; runs=${2:-4}
w=$(mktemp -d "${TMPDIR:-/tmp}/dinomesh-cold-read.XXXX")
mkdir -p "$w/mnt" "$w/data"
dotnet "$repo/src/DinoMesh.Node/bin/Release/net10.0/dino-node.dll" --mount "$w/mnt" --data-dir "$w/data" --listen 127.0.0.1:0 > "$w/node.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; umount -l "$w/mnt" 2>/dev/null; rm -rf "$w"' EXIT
for _ in $(seq 1 60); do grep -q " $w/mnt " /proc/self/mountinfo && break; sleep 0.5; done
for r in $(seq 1 "$runs"); do
  head -c 268435456 /dev/urandom > "$w/src"
  dd if="$w/src" of="$w/mnt/f$r" bs=1M conv=fsync status=none
  sync; echo 3 > /proc/sys/vm/drop_caches
  c0=$(awk '{print $14+$15}' /proc/$pid/stat)
  s=$(date +%s%N); dd if="$w/mnt/f$r" of=/dev/null bs=1M status=none; e=$(date +%s%N)
  c1=$(awk '{print $14+$15}' /proc/$pid/stat)
  echo "read $r: $(( (e-s)/1000000 )) ms  $(( 256*1000000000/(e-s) )) MiB/s  dino cpu $(( (c1-c0)*10 )) ms  load $(cut -d' ' -f1 /proc/loadavg)"
  rm -f "$w/mnt/f$r"
done
