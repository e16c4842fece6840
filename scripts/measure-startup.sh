#!/usr/bin/env bash
# Measures how long an installed dino-node takes from exec to a usable mount: N fresh starts, each founding a new
# cluster on a new data directory (the slowest start: a node key and certificate are made), and N restarts on an
# existing data directory. For each: wall time until the volume is in the mount table and a file round trip works,
# and the CPU time the process had used by then. Prints one line per run and the medians.
#   bash scripts/measure-startup.sh [N] [COMMAND...]     (default: 5 runs of `dino-node` from the PATH)
# Needs root (mount(2)). Every run uses its own temp dir and address 127.0.0.2:0; everything is removed afterwards.
set -euo pipefail
n=${1:-5}; shift || true
cmd=("$@"); [ ${#cmd[@]} -eq 0 ] && cmd=(dino-node)
ticks=$(getconf CLK_TCK)
root=$(mktemp -d /tmp/dinomesh-startup-XXXXXX)
trap 'for m in "$root"/*/mnt; do umount -l "$m" 2>/dev/null || true; done; rm -rf "$root"' EXIT

start_once() {  # $1 = run dir; prints "wall_ms cpu_ms"
  local r=$1 t0 t1 pid cpu
  mkdir -p "$r/mnt"
  t0=$(date +%s%N)
  "${cmd[@]}" --mount "$r/mnt" --data-dir "$r/data" --listen 127.0.0.2:0 >"$r/out" 2>"$r/err" &
  pid=$!
  for _ in $(seq 1 6000); do
    grep -q " $r/mnt fuse" /proc/self/mounts && echo x >"$r/mnt/probe" 2>/dev/null && [ "$(cat "$r/mnt/probe")" = x ] && break
    kill -0 "$pid" 2>/dev/null || { echo "measure: the node exited:" >&2; cat "$r/err" >&2; exit 1; }
    sleep 0.005
  done
  t1=$(date +%s%N)
  cpu=$(awk -v t="$ticks" '{ print int(($14 + $15) * 1000 / t) }' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" || true
  echo "$(( (t1 - t0) / 1000000 )) $cpu"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for kind in found restart; do
  : >"$root/$kind.txt"
  for i in $(seq 1 "$n"); do
    dir="$root/run$i"
    [ "$kind" = found ] && rm -rf "$dir"
    read -r wall cpu < <(start_once "$dir")
    echo "$kind run $i: $wall ms to a usable mount, $cpu ms CPU"
    echo "$wall $cpu" >>"$root/$kind.txt"
  done
  echo "$kind: median $(cut -d' ' -f1 "$root/$kind.txt" | median) ms wall, $(cut -d' ' -f2 "$root/$kind.txt" | median) ms CPU (load average $(cut -d' ' -f1 /proc/loadavg))"
done
