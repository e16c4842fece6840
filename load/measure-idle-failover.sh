#!/usr/bin/env bash
# Fail-over of an idle log (issue 13's idle lease): founds a 3-node cluster on PREFIX.1-3, writes one file, waits
# IDLE seconds with nothing written (default 10: well past the 1 s the lease needs to idle), kills the lease holder
# with kill -9 and times how long a mkdir on a survivor takes to return (it waits for a new holder). Prints one line:
#   TAG idle-failover S seconds (holder was node N)
#   sudo load/measure-idle-failover.sh [NODE] [PREFIX] [TAG]   # defaults: this repo's Release dino-node, 127.0.63, idle
# NODE is a dino-node.dll (run with `dotnet`) or an executable. Needs root and /dev/fuse. Every wait has a deadline;
# on any exit the nodes are killed, the mounts lazily unmounted and the temp directory removed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dll=${1:-$repo/src/DinoMesh.Node/bin/Release/net10.0/dino-node.dll}
prefix=${2:-127.0.63}
tag=${3:-idle}
[ -f "$dll" ] || { echo "no $dll: dotnet build -c Release src/DinoMesh.Node" >&2; exit 2; }
case "$dll" in
  *.dll) node=(dotnet "$dll") ;;
  *) node=("$dll") ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "needs root (FUSE mounts)" >&2; exit 2; }

work=$(mktemp -d /tmp/dino-failover-XXXXXX)
# shellcheck source=load/local-nodes.sh
. "$repo/load/local-nodes.sh"
trap cleanup_nodes EXIT
start() { start_node "$@"; }
status_field() { timeout 10 "${node[@]}" status --json --data-dir "$work/n$1/data" 2>/dev/null | grep -o "\"$2\":\"[0-9a-f]*\"" | cut -d'"' -f4; }

start 1
token=$(founder_token)
start 2 --join "$prefix.1:7946" --token "$token"
start 3 --join "$prefix.1:7946" --token "$token"
for _ in $(seq 1 300); do mountpoint -q "$work/n2/mnt" && mountpoint -q "$work/n3/mnt" && break; sleep 0.2; done
mountpoint -q "$work/n3/mnt" || { echo "the joiners did not mount within 60 s" >&2; exit 1; }
# Three voters before the kill, or the survivors cannot elect anyone.
for _ in $(seq 1 300); do
  [ "$(timeout 10 "${node[@]}" status --json --data-dir "$work/n1/data" 2>/dev/null | grep -o '"role":"[a-z]*"' | head -1)" != "" ] \
    && [ "$(timeout 10 "${node[@]}" peers --data-dir "$work/n1/data" 2>/dev/null | grep -cE ' (holder|voter) ')" -ge 3 ] && break
  sleep 0.2
done
echo hello > "$work/n2/mnt/before.txt"
sleep "${IDLE:-10}"
holder=$(status_field 2 holder)
victim=""
for i in 1 2 3; do [ "$(status_field "$i" peerId)" = "$holder" ] && victim=$i; done
[ -n "$victim" ] || { echo "no node holds the lease" >&2; exit 1; }
survivor=1; [ "$victim" = 1 ] && survivor=2
kill -9 "${pids[$((victim - 1))]}"
start_ns=$(date +%s%N)
timeout 30 mkdir "$work/n$survivor/mnt/after" || { echo "mkdir on node $survivor did not return within 30 s" >&2; exit 1; }
end_ns=$(date +%s%N)
awk -v a="$start_ns" -v b="$end_ns" -v t="$tag" -v v="$victim" 'BEGIN { printf "%s idle-failover %.2f s (holder was node %s)\n", t, (b - a) / 1e9, v }'
