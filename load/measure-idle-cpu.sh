#!/usr/bin/env bash
# Idle cost of a 3-node cluster (issue 13): founds a cluster on PREFIX.1, joins PREFIX.2 and PREFIX.3 with the
# printed credential, waits until all three are mounted, lets them settle for 30 s, and prints each node's CPU
# (utime + stime over the next 60 s, % of one core) and RSS at the end, on one line (SETTLE=90 waits 90 s instead
# of 30, past most of the JIT's tiering of the code the start ran):
#   TAG cpu% cpu% cpu%  rss(MiB) a b c
#   sudo load/measure-idle-cpu.sh [NODE] [PREFIX] [TAG] [PROFILE]  # defaults: this repo's Release dino-node, 127.0.61, idle, local
# NODE is a dino-node.dll (run with `dotnet`) or an executable: a Native AOT publish, or the apphost of a ReadyToRun
# one. NODES=1 measures a lone node (the founder only) instead of three; NODES=N any other count (N - 1 joiners).
# Two builds compare fairly only side by side: run two copies at once with different PREFIX (for example one with
# the DLL of an older worktree). Needs root and /dev/fuse. Every wait has a deadline; on any exit the nodes are
# killed, the mounts lazily unmounted and the temp directory removed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dll=${1:-$repo/src/DinoMesh.Node/bin/Release/net10.0/dino-node.dll}
prefix=${2:-127.0.61}
tag=${3:-idle}
profile=${4:-local}
[ -f "$dll" ] || { echo "no $dll: dotnet build -c Release src/DinoMesh.Node" >&2; exit 2; }
case "$dll" in
  *.dll) node=(dotnet "$dll") ;;
  *) node=("$dll") ;;
esac
nodes=${NODES:-3}
[ "$(id -u)" -eq 0 ] || { echo "needs root (FUSE mounts)" >&2; exit 2; }

work=$(mktemp -d /tmp/dino-idle-XXXXXX)
# shellcheck source=load/local-nodes.sh
. "$repo/load/local-nodes.sh"
trap cleanup_nodes EXIT
start() { local i=$1; shift; start_node "$i" --membership-profile "$profile" "$@"; }

start 1
token=$(founder_token)
all_mounted() {
  local i
  for i in $(seq 2 "$nodes"); do mountpoint -q "$work/n$i/mnt" || return 1; done
}
for i in $(seq 2 "$nodes"); do start "$i" --join "$prefix.1:7946" --token "$token"; done
for _ in $(seq 1 $((300 + 20 * nodes))); do all_mounted && break; sleep 0.2; done
all_mounted || { echo "the joiners did not mount within $((60 + 4 * nodes)) s" >&2; exit 1; }

sleep "${SETTLE:-30}"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A before
for p in "${pids[@]}"; do before[$p]=$(ticks "$p"); done
sleep 60
hz=$(getconf CLK_TCK)
line="$tag"
for p in "${pids[@]}"; do
  line="$line $(awk -v a="${before[$p]}" -v b="$(ticks "$p")" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz / 60 * 100 }')"
done
line="$line  rss(MiB)"
for p in "${pids[@]}"; do line="$line $(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$p/status")"; done
echo "$line"
