#!/usr/bin/env bash
# One writer on N nodes with `perf record -g -F 4999` of every node for 5 s of the window (issue 9): where each thread's
# CPU goes. The Native AOT node has symbols, so perf names the .NET frames. Bounded (200 s); run under
# `flock -x /tmp/bench.lock` on a shared machine. Then `load/perf-under.py OUT/perf.data PID:THREAD FRAME_REGEX`.
#   load/profile-many-writers.sh EXE NODES OUT      # OUT/pids says which pid is which node (node1 holds the lease)
set -uo pipefail
exe=$1; n=$2; d=$3
dll="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/DinoMesh.Load/bin/Release/net10.0/dino-load.dll"
rm -rf "$d"; mkdir -p "$d"
timeout 200 dotnet "$dll" many-writers --nodes "$n" --duration 12s --copies 1 --no-live --work-dir /var/tmp --out "$d/report" --dino-dll "$exe" > "$d/log" 2>&1 &
lp=$!
for _ in $(seq 1 600); do grep -q "many-writers measuring started" "$d/log" && break; sleep 0.1; done
sleep 2
pids=$(pgrep -f "^$exe .*--mount" | paste -sd,)
for p in ${pids//,/ }; do echo "$p $(tr '\0' ' ' < /proc/$p/cmdline | grep -o 'node[0-9]*/data' | head -1)"; done > "$d/pids"
perf record -F 4999 -g -p "$pids" -o "$d/perf.data" -- sleep 5 > "$d/perf.log" 2>&1
wait $lp
grep -E "dino +create 4 KiB" "$d/log" | head -1
