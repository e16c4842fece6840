#!/usr/bin/env bash
# One writer on 3 nodes (issue 9) with what each node spent on it: one `dino-load many-writers --nodes 3 --copies 1`
# run (15 s, warm-up 3 s), and at the runner's "measuring started" and "measured" lines each node's CPU (utime and
# stime), context switches (all threads), minor faults, per-thread CPU and context switches, and `dino-node status
# --json` (the lease holder's hold-back counters: notices carried / alone, deferred appends merged / alone, policy
# switches); `perf stat` (software events) over the window. Everything goes to OUT/NAME/; the last lines printed are
# the load at the start and the runner's result row.
#   sudo load/measure-one-writer.sh EXE NAME [OUT]     # EXE: a dino-node executable (e.g. a Native AOT publish)
# PERF_REC=1 also records `perf record -g` of node1 (the holder) and node2 for 6 s of the window (perf.data; the run
# is then slower). Take `flock -x /tmp/bench.lock` around it on a shared machine. Bounded: the run has 300 s.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exe=$1; name=$2; out=${3:-/tmp/one-writer}
load_dll=$repo/load/DinoMesh.Load/bin/Release/net10.0/dino-load.dll
[ -x "$exe" ] || { echo "no executable $exe" >&2; exit 2; }
[ -f "$load_dll" ] || { echo "no $load_dll: dotnet build -c Release load/DinoMesh.Load" >&2; exit 2; }
d=$out/$name; rm -rf "$d"; mkdir -p "$d"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)" > "$d/meta"
timeout 300 dotnet "$load_dll" many-writers --nodes 3 --duration 15s --copies 1 --no-live --work-dir /var/tmp --out "$d/report" --dino-dll "$exe" > "$d/log" 2>&1 &
lp=$!
nodes() { pgrep -f "^$exe .*--mount"; }
sample() { # $1 = 0 (start of the window) or 1 (end)
  for p in $(nodes); do
    dd=$(tr '\0' '\n' < /proc/$p/cmdline | grep -A1 '^--data-dir$' | tail -1)
    nm=$(basename "$(dirname "$dd")")
    cs=$(cat /proc/$p/task/*/status 2>/dev/null | awk '/ctxt_switches/{s+=$2} END{print s}')
    awk -v n="$nm" -v cs="$cs" '{print n, $14, $15, $10, cs}' /proc/$p/stat >> "$d/nodes.$1"   # node utime stime minflt cs
    for t in /proc/$p/task/*; do
      echo "$nm $(tr ' ' '_' < $t/comm) $(awk '{print $14+$15}' $t/stat) $(awk '/voluntary_ctxt_switches/{printf "%s ", $2}' $t/status)"
    done 2>/dev/null | awk '{a[$1" "$2]+=$3; v[$1" "$2]+=$4; n[$1" "$2]+=$5} END{for(k in a) print k, a[k], v[k], n[k]}' >> "$d/threads.$1"
    "$exe" status --json --data-dir "$dd" > "$d/status.$nm.$1" 2>/dev/null
  done
}
for _ in $(seq 1 600); do grep -q "many-writers measuring started" "$d/log" && break; sleep 0.1; done
sample 0
pids=$(nodes | paste -sd,)
timeout -s INT 14 perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p "$pids" -o "$d/perfstat" > /dev/null 2>&1 &
if [ -n "${PERF_REC:-}" ]; then
  two=$(for p in $(nodes); do tr '\0' '\n' < /proc/$p/cmdline | grep -qE 'node[12]/data' && echo $p; done | paste -sd,)
  (sleep 3; perf record -F 499 -g -p "$two" -o "$d/perf.data" -- sleep 6 > /dev/null 2>&1) &
fi
for _ in $(seq 1 600); do grep -q "many-writers: measured" "$d/log" && break; sleep 0.1; done
sample 1
wait $lp
grep -E "dino +create 4 KiB" "$d/log" | head -1 >> "$d/meta"
grep -E "every node lists|INCOMPLETE" "$d/log" | head -1 >> "$d/meta"
cat "$d/meta"
