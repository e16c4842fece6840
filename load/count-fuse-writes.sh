#!/usr/bin/env bash
# How many notifications (and replies) each node writes to /dev/fuse while one writer creates small files on 3 nodes
# (issue 9): one `dino-load many-writers --nodes 3 --copies 1` run (12 s), and from its 13th second `strace -f -e
# trace=write,writev` of every node for 3 s, counting the writes to the node's /dev/fuse descriptors. The writer's
# node answers its own FUSE requests; a follower that nobody uses writes only invalidations.
#   sudo load/count-fuse-writes.sh EXE        # EXE: a dino-node executable (e.g. a Native AOT publish)
# Take `flock -x /tmp/bench.lock` around it on a shared machine. Bounded: the run has 120 s, each strace 3 s.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exe=$1
load_dll=$repo/load/DinoMesh.Load/bin/Release/net10.0/dino-load.dll
[ -x "$exe" ] || { echo "no executable $exe" >&2; exit 2; }
[ -f "$load_dll" ] || { echo "no $load_dll: dotnet build -c Release load/DinoMesh.Load" >&2; exit 2; }
command -v strace > /dev/null || { echo "strace is not installed (apt-get install -y strace)" >&2; exit 2; }
out=$(mktemp -d /tmp/fuse-writes.XXXXXX)
timeout 120 dotnet "$load_dll" many-writers --nodes 3 --duration 12s --copies 1 --no-live --work-dir /var/tmp --out "$out/report" --dino-dll "$exe" > "$out/log" 2>&1 &
runner=$!
sleep 13
for pid in $(pgrep -f "^$exe .*--mount"); do
  fds=$(ls -l /proc/$pid/fd 2>/dev/null | awk '/\/dev\/fuse/{print $9}' | tr '\n' ' ')
  [ -z "$fds" ] && continue
  echo "$fds" > "$out/fds.$pid"
  timeout 3 strace -f -qq -e trace=write,writev -p "$pid" -o "$out/strace.$pid" 2>/dev/null &
done
wait $runner
sleep 1
for f in "$out"/strace.*; do
  [ -e "$f" ] || continue
  pid=${f##*.}; n=0
  for fd in $(cat "$out/fds.$pid"); do n=$((n + $(grep -cE "write(v)?\($fd," "$f"))); done
  echo "node pid $pid: writes to /dev/fuse in 3 s: $n"
done
grep -h "create 4 KiB" "$out/log" | tail -1
echo "logs: $out"
