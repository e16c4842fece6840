#!/usr/bin/env bash
# Local cold sequential read (issue 10), side by side: one lone dino-node per build given (e.g. main's and a branch's)
# and a bindfs mount, all up at once, FILES files of SIZE MiB written to each (content of its own per file), then
# FILES rounds: in each round every target reads its next file cold (`sync`, drop_caches, `dd bs=1M`), the order of
# the targets rotated every round. The writes that fill the targets (`dd bs=1M conv=fsync`) are timed as well, in the
# same rotation. Per read it prints the wall time and, for a node, the CPU it used (utime + stime from /proc/PID/stat);
# the medians are printed at the end. Side by side, every target sees the same machine load, which on a shared
# machine is what makes a comparison of two builds possible at all.
#   sudo load/measure-local-read.sh PREFIX FILES SIZE_MIB NODE_EXE_OR_DLL [NODE_EXE_OR_DLL...]   # e.g. 127.0.51 8 256 A B
# Needs root, /dev/fuse and bindfs. WORK_DIR=D puts the data directories and mounts under D (default /var/tmp). Every
# wait has a deadline; on any exit the nodes are killed, the mounts lazily unmounted and the temp directory removed.
set -euo pipefail
prefix=${1:?first three octets, e.g. 127.0.51}
files=${2:?files per target}
size_mib=${3:?MiB per file}
shift 3
[ $# -ge 1 ] || { echo "give at least one dino-node executable or dll" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (FUSE mounts, drop_caches)" >&2; exit 2; }
command -v bindfs > /dev/null || { echo "needs bindfs" >&2; exit 2; }

work=$(mktemp -d "${WORK_DIR:-/var/tmp}/dino-localread-XXXXXX")
src=$(mktemp -d /dev/shm/dino-localread-XXXXXX)
source "$(dirname "${BASH_SOURCE[0]}")/local-nodes.sh"
cleanup() { cleanup_nodes; rm -rf "$src"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }

names=() mounts=() node_pids=()
i=0
for build in "$@"; do
  i=$((i + 1))
  case "$build" in *.dll) node=(dotnet "$build") ;; *) node=("$build") ;; esac
  mkdir -p "$work/n$i/mnt" "$work/n$i/data"
  setpriv --pdeathsig KILL -- "${node[@]}" --mount "$work/n$i/mnt" --data-dir "$work/n$i/data" --listen "$prefix.$i:7946" \
    --membership-profile local > "$work/n$i/log" 2>&1 &
  pids+=($!)
  wait_for 60 mountpoint -q "$work/n$i/mnt" || { echo "node $i did not mount:" >&2; tail -5 "$work/n$i/log" >&2; exit 1; }
  names+=("dino$i") mounts+=("$work/n$i/mnt") node_pids+=($!)
done
mkdir -p "$work/bindfs/src" "$work/bindfs/mnt"
bindfs "$work/bindfs/src" "$work/bindfs/mnt"
names+=(bindfs) mounts+=("$work/bindfs/mnt") node_pids+=("")
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); $files x $size_mib MiB per target; ${names[*]} = $* bindfs"

# The writes are timed too (dd conv=fsync, from /dev/shm, order rotated each file like the reads): the cost side of
# a change to the read path (e.g. the chunk size) on the one-node write.
declare -A writes
targets=${#mounts[@]}
for f in $(seq 1 "$files"); do
  head -c "$((size_mib << 20))" /dev/urandom > "$src/f"
  for k in $(seq 0 $((targets - 1))); do
    t=$(((k + f) % targets))
    t0=$(now)
    dd if="$src/f" of="${mounts[$t]}/f$f" bs=1M conv=fsync status=none
    t1=$(now)
    writes[$t]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%d", (b-a)*1000}') "
  done
done
rm -f "$src/f"
sync

declare -A walls cpus
for f in $(seq 1 "$files"); do
  line="round $f load $(cut -d' ' -f1 /proc/loadavg) |"
  for k in $(seq 0 $((targets - 1))); do
    t=$(((k + f) % targets))
    sync; echo 3 > /proc/sys/vm/drop_caches
    p=${node_pids[$t]}
    c0=0; [ -n "$p" ] && c0=$(ticks_of "$p")
    t0=$(now)
    dd if="${mounts[$t]}/f$f" of=/dev/null bs=1M status=none
    t1=$(now)
    c1=0; [ -n "$p" ] && c1=$(ticks_of "$p")
    ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%d", (b-a)*1000}')
    walls[$t]+="$ms " cpus[$t]+="$(((c1 - c0) * 10)) "
    line+=" ${names[$t]} $ms ms"
    [ -n "$p" ] && line+=" (cpu $(((c1 - c0) * 10)))"
  done
  echo "$line"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
for t in $(seq 0 $((targets - 1))); do
  printf '%-7s writes: %s| median %s ms\n' "${names[$t]}" "${writes[$t]}" "$(echo "${writes[$t]}" | median)"
done
for t in $(seq 0 $((targets - 1))); do
  printf '%-7s reads: %s| median %s ms' "${names[$t]}" "${walls[$t]}" "$(echo "${walls[$t]}" | median)"
  [ -n "${node_pids[$t]}" ] && printf ', node cpu median %s ms' "$(echo "${cpus[$t]}" | median)"
  echo
done
