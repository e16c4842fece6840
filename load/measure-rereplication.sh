#!/usr/bin/env bash
# Time to re-replicate after a node loss (issue 10): three local dino-nodes (R=2 by default), SIZE MiB of random
# bytes written and fsynced on node1, every node reporting nothing under-replicated; then one node that is neither
# the writer nor the lease holder is killed with kill -9, and the script polls `dino-node status --json` on the two
# survivors until both count two live members, nothing under-replicated and an empty repair queue.
#   sudo load/measure-rereplication.sh [SIZE_MIB] [REPLICAS]      # defaults 1024 2
# Needs root, /dev/fuse and a Release build of dino-node (dotnet build -c Release src/DinoMesh.Node).
# Every wait has a deadline; on any exit (also Ctrl-C) the nodes it started are stopped (SIGTERM, then SIGKILL), its
# mounts lazily unmounted and its temp directory removed. Prints one line per phase and a summary.
set -euo pipefail
size_mib=${1:-1024}
replicas=${2:-2}
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dll="$repo/src/DinoMesh.Node/bin/Release/net10.0/dino-node.dll"
[ -f "$dll" ] || { echo "no $dll: dotnet build -c Release src/DinoMesh.Node" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (FUSE mounts)" >&2; exit 2; }

work=$(mktemp -d /tmp/dino-rerepl-XXXXXX)
prefix=127.0.5
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.5.1",0)); print(s.getsockname()[1])')
pids=()
start_s=$(date +%s.%N)
now() { awk -v s="$start_s" -v n="$(date +%s.%N)" 'BEGIN{printf "%.3f", n-s}'; }
say() { echo "[$(now) s] $*"; }

cleanup() {
  set +e
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 1 150); do
    alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break; sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for i in 1 2 3; do umount -l "$work/n$i/mnt" 2>/dev/null || true; done
  if ! grep -q " $work/" /proc/mounts; then rm -rf "$work"; else echo "left $work: still mounted" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

node() { dotnet "$dll" "$@"; }
status() { timeout 10 dotnet "$dll" status --json --data-dir "$work/n$1/data" 2>/dev/null; }

# Waits until "$@" succeeds, polling every 0.2 s, at most $1 seconds.
wait_for() {
  local limit=$1; shift; local end=$((SECONDS + limit))
  until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done
}

launch() { # i, extra args...
  local i=$1; shift
  mkdir -p "$work/n$i/mnt" "$work/n$i/data"
  setpriv --pdeathsig KILL -- setsid dotnet "$dll" --mount "$work/n$i/mnt" --data-dir "$work/n$i/data" --listen "$prefix.$i:$port" \
    --advertise "$prefix.$i:$port" --membership-profile local --replicas "$replicas" "$@" >"$work/n$i.log" 2>&1 &
  pids[$i]=$!
  wait_for 60 mountpoint -q "$work/n$i/mnt" || { echo "node$i did not mount; log:" >&2; tail -20 "$work/n$i.log" >&2; exit 1; }
}

all_alive() { [ "$(timeout 10 dotnet "$dll" peers --json --data-dir "$work/n1/data" 2>/dev/null | jq '[.[] | select(.state == "alive")] | length')" = "3" ]; }
# Nothing under-replicated and nothing queued on node $1, with $2 live members.
settled() { status "$1" | jq -e --argjson live "$2" '.chunks.liveMembers == $live and .chunks.missing == 0 and .chunks.repairQueue == 0' >/dev/null; }
both_settled() { settled "$1" 2 && settled "$2" 2; }

say "load: $(cut -d' ' -f1-3 /proc/loadavg); ${size_mib} MiB, R=$replicas, nodes $prefix.1-3:$port, work $work"
launch 1
node token --data-dir "$work/n1/data" >"$work/token"; chmod 600 "$work/token"
launch 2 --join "$prefix.1:$port" --token-file "$work/token"
launch 3 --join "$prefix.1:$port" --token-file "$work/token"
rm -f "$work/token"
wait_for 120 all_alive || { echo "the three nodes did not list each other alive within 120 s" >&2; exit 1; }
say "cluster formed"

t0=$(date +%s.%N)
dd if=/dev/urandom of="$work/n1/mnt/big" bs=1M count="$size_mib" conv=fsync status=none
t1=$(date +%s.%N)
say "wrote ${size_mib} MiB on node1 (dd conv=fsync): $(awk -v a="$t0" -v b="$t1" -v m="$size_mib" 'BEGIN{printf "%.1f s, %.0f MiB/s", b-a, m/(b-a)}')"
for i in 1 2 3; do wait_for 300 settled $i 3 || { echo "node$i still reports under-replicated chunks after the write" >&2; exit 1; }; done
for i in 1 2 3; do say "node$i before: $(status $i | jq -c '{role, placementMiB: (.chunks.placementBytes/1048576|floor), missing: .chunks.missing}')"; done

holder=$(status 1 | jq -r '.holder // ""')
victim=3
if [ -n "$holder" ] && [ "$(status 3 | jq -r .peerId)" = "$holder" ]; then victim=2; fi
survivors=(); for i in 1 2 3; do [ $i -ne $victim ] && survivors+=("$i"); done
say "killing node$victim (kill -9; holder is ${holder:0:12})"
k0=$(date +%s.%N)
kill -KILL "${pids[$victim]}"; umount -l "$work/n$victim/mnt" 2>/dev/null || true
detected=""; first_missing=""
end=$((SECONDS + 900))
while :; do
  t=$(awk -v a="$k0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}')
  s1=$(status "${survivors[0]}" || echo '{}'); s2=$(status "${survivors[1]}" || echo '{}')
  live=$(jq -n --argjson a "$s1" --argjson b "$s2" '[$a.chunks.liveMembers, $b.chunks.liveMembers] | max')
  missing=$(jq -n --argjson a "$s1" --argjson b "$s2" '($a.chunks.missing // 0) + ($b.chunks.missing // 0)')
  queue=$(jq -n --argjson a "$s1" --argjson b "$s2" '($a.chunks.repairQueue // 0) + ($b.chunks.repairQueue // 0)')
  [ -z "$detected" ] && [ "$live" = "2" ] && { detected=$t; say "a survivor counts 2 live members ${t} s after the kill"; }
  [ -z "$first_missing" ] && [ "$missing" != "0" ] && { first_missing=$t; say "under-replicated chunks seen (${missing}) ${t} s after the kill"; }
  if [ -n "$detected" ] && both_settled "${survivors[0]}" "${survivors[1]}"; then break; fi
  [ $SECONDS -lt $end ] || { say "NOT re-replicated within 900 s (missing $missing, queue $queue)"; exit 1; }
  sleep 0.2
done
done_t=$(awk -v a="$k0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}')
for i in "${survivors[@]}"; do say "node$i after: $(status $i | jq -c '{placementMiB: (.chunks.placementBytes/1048576|floor), repairedMiB: (.chunks.repairedBytes/1048576|floor), repaired: .chunks.repaired}')"; done
repaired=$(for i in "${survivors[@]}"; do status $i | jq '.chunks.repairedBytes'; done | awk '{s+=$1} END{printf "%.0f", s/1048576}')
say "re-replicated: nothing under-replicated on either survivor ${done_t} s after the kill (death seen after ${detected} s; ${repaired} MiB repaired); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RESULT size_mib=$size_mib replicas=$replicas detected_s=$detected rereplicated_s=$done_t repaired_mib=$repaired"
