#!/usr/bin/env bash
# A follower stopped (SIGSTOP) for STOP seconds under a steady stream of creates on the lease holder (issue 9): does
# the holder keep committing, and how long does the slowest create take? Three local dino-nodes with --replicas 1 (no
# chunk pushes: the metadata path alone); one writer on node1 (the founder, which holds the lease) creates a file,
# writes 4 KiB and closes it, over and over, for STOP + 15 s; node VICTIM is stopped 5 s in and continued STOP s later.
# Prints the number of creates, the slowest (and when), those over 100 ms, how soon the stopped node lists every
# file after the writer stops, and the holder's warnings.
#   sudo load/measure-stopped-follower.sh EXE [PREFIX]   # env: VICTIM=2|3 (default 2), STOP=seconds (default 40),
#                                                         SLOW_MS=ms (creates slower than this are listed; 100)
# Needs root and /dev/fuse. Bounded: the writer stops after STOP + 15 s or 200,000 files; every wait has a deadline.
set -euo pipefail
exe=${1:?a dino-node executable}; prefix=${2:-127.0.95}; victim=${VICTIM:-2}; stop=${STOP:-40}
[ "$(id -u)" -eq 0 ] || { echo "needs root (FUSE mounts)" >&2; exit 2; }
node=("$exe"); work=$(mktemp -d "${WORK_DIR:-/var/tmp}/dino-stopped-XXXXXX"); port=7946
source "$(dirname "${BASH_SOURCE[0]}")/local-nodes.sh"
trap 'kill -CONT "${pids[@]}" 2>/dev/null || true; cleanup_nodes' EXIT
start_member 1 1
(umask 077; "${node[@]}" token --data-dir "$work/n1/data" > "$work/token")
start_member 2 1 --join "$prefix.1:$port" --token-file "$work/token"
start_member 3 1 --join "$prefix.1:$port" --token-file "$work/token"
wait_for 120 all_alive || { echo "the nodes did not list each other alive" >&2; exit 1; }
mkdir "$work/n1/mnt/d"
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); node$victim stopped for $stop s; $exe"
python3 - "$work/n1/mnt/d" $((stop + 15)) > "$work/latency" <<'PY' &
import os, sys, time
d, duration = sys.argv[1], float(sys.argv[2])
start = time.monotonic(); i = 0
while time.monotonic() - start < duration and i < 200_000:
    s = time.monotonic()
    fd = os.open(f"{d}/f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, b"x" * 4096)
    os.close(fd)
    print(f"{s - start:.3f} {(time.monotonic() - s) * 1000:.2f}")
    i += 1
PY
writer=$!
sleep 5; kill -STOP "${pids[$((victim - 1))]}"
sleep "$stop"; kill -CONT "${pids[$((victim - 1))]}"
wait $writer || echo "the writer failed (see above)"
awk -v a=5 -v b=$((5 + stop)) '{n++; if ($2 > m) {m = $2; at = $1}; if ($2 > 100) slow++; if ($1 > a && $1 < b) during++}
  END {printf "%d creates (%d while node stopped); slowest %.1f ms at %.1f s; over 100 ms: %d\n", n, during, m, at, slow}' "$work/latency"
awk -v t="${SLOW_MS:-100}" '$2 > t {printf "  %.1f ms at %.1f s\n", $2, $1}' "$work/latency" | head -40
# The stopped node must catch up: every file the writer made listed through its own mount (deadline 60 s).
made=$(wc -l < "$work/latency"); t0=$(date +%s.%N)
caught_up() { [ "$(ls -f "$work/n$victim/mnt/d" 2>/dev/null | grep -c '^f')" = "$made" ]; }
if wait_for 60 caught_up; then
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "node'"$victim"' lists all %d files %.1f s after the writer stopped\n", '"$made"', b - a}'
else
  echo "node$victim did NOT list all $made files within 60 s of the writer stopping"
fi
grep -E " (warn|fail|crit):" "$work/n1/log" | tail -5 || true
