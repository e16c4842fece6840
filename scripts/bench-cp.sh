#!/usr/bin/env bash
# Times `cp` of one file (default 1 GiB of random bytes) on each target: a native directory, a bindfs mount of one, and
# one dino-node per build given. The source is written and fsynced first; before every copy the kernel's caches are
# dropped (root), so the copy reads its source from the disk (or from the daemon). Two times per run: `cp` alone, and
# `cp` plus `sync` of the copy (what it costs until the copy is on disk). Runs take turns across targets; the medians
# are printed as a Markdown table.
#
#   sudo scripts/bench-cp.sh [--size-mib 1024] [--runs 5] [--work-dir DIR] [--dino NAME=path/to/dino-node.dll]...
#   sudo scripts/bench-cp.sh --dino before=/tmp/old/src/DinoMesh.Node/bin/Release/net10.0/dino-node.dll \
#                            --dino after=src/DinoMesh.Node/bin/Release/net10.0/dino-node.dll
set -euo pipefail

size_mib=1024
runs=5
work_parent=${TMPDIR:-/tmp}
dinos=()
while [ $# -gt 0 ]; do
  case "$1" in
    --size-mib) size_mib=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work-dir) work_parent=$2; shift 2 ;;
    --dino) dinos+=("$2"); shift 2 ;;
    *) echo "bench-cp: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench-cp: run as root (mounts, drop_caches)" >&2; exit 2; }
command -v bindfs >/dev/null || { echo "bench-cp: bindfs is not installed (scripts/install-deps.sh)" >&2; exit 2; }

work=$(mktemp -d "$work_parent/dinomesh-bench-cp-XXXXXX")
names=(native bindfs)
dirs=("$work/native" "$work/bindfs-mnt")
pids=()
mkdir -p "$work/native" "$work/bindfs-src" "$work/bindfs-mnt"

cleanup() {
  for d in "${dirs[@]:1}"; do
    if mountpoint -q "$d"; then umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true; fi
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  for d in "${dirs[@]:1}"; do mountpoint -q "$d" && { echo "bench-cp: $d still mounted; leaving $work" >&2; return; }; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

wait_mount() {
  for _ in $(seq 600); do
    if findmnt -n "$1" 2>/dev/null | grep -q fuse; then return 0; fi
    sleep 0.1
  done
  echo "bench-cp: nothing mounted at $1 after 60 s" >&2
  exit 1
}

bindfs -o default_permissions "$work/bindfs-src" "$work/bindfs-mnt"
wait_mount "$work/bindfs-mnt"
for spec in "${dinos[@]}"; do
  name=${spec%%=*}
  dll=$(readlink -f "${spec#*=}")
  mkdir -p "$work/$name-mnt" "$work/$name-data"
  setsid dotnet "$dll" --mount "$work/$name-mnt" --data-dir "$work/$name-data" --listen 127.0.0.1:0 >"$work/$name.log" 2>&1 </dev/null &
  pids+=($!)
  names+=("$name")
  dirs+=("$work/$name-mnt")
  wait_mount "$work/$name-mnt"
done

echo "bench-cp: writing the ${size_mib} MiB source on ${names[*]}" >&2
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/source"
for d in "${dirs[@]}"; do
  dd if="$work/source" of="$d/src" bs=1M conv=fsync status=none
done
rm -f "$work/source"

now() { date +%s.%N; }
declare -A cp_times sync_times
for run in $(seq "$runs"); do
  for i in "${!names[@]}"; do
    d=${dirs[$i]}
    sync
    echo 3 >/proc/sys/vm/drop_caches
    t0=$(now); cp "$d/src" "$d/dst"; t1=$(now); sync "$d/dst"; t2=$(now)
    cmp -s "$d/src" "$d/dst" || { echo "bench-cp: the copy on ${names[$i]} differs from its source" >&2; exit 1; }
    cp_times[${names[$i]}]+="$(echo "$t1 - $t0" | bc -l) "
    sync_times[${names[$i]}]+="$(echo "$t2 - $t0" | bc -l) "
    rm -f "$d/dst"
    sync
    printf 'bench-cp: run %d %-8s cp %6.3f s, cp+sync %6.3f s\n' "$run" "${names[$i]}" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t2 - $t0" | bc -l)" >&2
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "| target | cp (s) | cp + sync (s) | MB/s (cp) | runs: cp (s) |"
echo "|---|---:|---:|---:|---|"
for n in "${names[@]}"; do
  c=$(echo "${cp_times[$n]}" | median)
  s=$(echo "${sync_times[$n]}" | median)
  printf '| %s | %.3f | %.3f | %.0f | %s|\n' "$n" "$c" "$s" "$(echo "$size_mib * 1048576 / 1000000 / $c" | bc -l)" "$(for v in ${cp_times[$n]}; do printf '%.2f ' "$v"; done)"
done
