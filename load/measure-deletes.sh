#!/usr/bin/env bash
# Removing many files on a 3-node cluster: founds a cluster on PREFIX.1-3, creates FILES small files (4 KiB) in one
# directory through node 1, waits until node 3 lists them all, then times `rm -r` of the directory on node 1 and how
# long until the metadata version stops moving (every member's releases of the orphans committed). Prints one line:
#   TAG deletes FILES files: rm R s, settled S s, C commits (X per file)
#   sudo load/measure-deletes.sh [NODE] [PREFIX] [TAG] [FILES]   # defaults: this repo's Release dino-node, 127.0.66, deletes, 2000
# NODE is a dino-node.dll (run with `dotnet`) or an executable. Needs root and /dev/fuse. Every wait has a deadline;
# on any exit the nodes are killed, the mounts lazily unmounted and the temp directory removed. WORK_DIR (default
# /var/tmp) holds the nodes' directories.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dll=${1:-$repo/src/DinoMesh.Node/bin/Release/net10.0/dino-node.dll}
prefix=${2:-127.0.66}
tag=${3:-deletes}
files=${4:-2000}
[ -f "$dll" ] || { echo "no $dll: dotnet build -c Release src/DinoMesh.Node" >&2; exit 2; }
case "$dll" in
  *.dll) node=(dotnet "$dll") ;;
  *) node=("$dll") ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "needs root (FUSE mounts)" >&2; exit 2; }

work=$(mktemp -d "${WORK_DIR:-/var/tmp}/dino-deletes-XXXXXX")
# shellcheck source=load/local-nodes.sh
. "$repo/load/local-nodes.sh"
trap cleanup_nodes EXIT
version() { timeout 10 "${node[@]}" status --json --data-dir "$work/n$1/data" 2>/dev/null | grep -o '"appliedVersion":[0-9]*' | cut -d: -f2; }

start_node 1 --membership-profile local
token=$(founder_token)
start_node 2 --membership-profile local --join "$prefix.1:7946" --token "$token"
start_node 3 --membership-profile local --join "$prefix.1:7946" --token "$token"
for _ in $(seq 1 300); do mountpoint -q "$work/n2/mnt" && mountpoint -q "$work/n3/mnt" && break; sleep 0.2; done
mountpoint -q "$work/n3/mnt" || { echo "the joiners did not mount within 60 s" >&2; exit 1; }
for _ in $(seq 1 300); do
  [ "$(timeout 10 "${node[@]}" peers --data-dir "$work/n1/data" 2>/dev/null | grep -cE ' (holder|voter) ')" -ge 3 ] && break
  sleep 0.2
done

python3 - "$work/n1/mnt/d" "$files" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
block = os.urandom(4096)
for i in range(n):
    fd = os.open(os.path.join(d, f"f{i}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, block)
    os.close(fd)
EOF
for _ in $(seq 1 600); do [ "$(ls "$work/n3/mnt/d" 2>/dev/null | wc -l)" -ge "$files" ] && break; sleep 0.1; done
[ "$(ls "$work/n3/mnt/d" | wc -l)" -ge "$files" ] || { echo "node 3 did not list $files files within 60 s" >&2; exit 1; }
sleep 2
before=$(version 1)
[ -n "$before" ] || { echo "no applied version from node 1's status" >&2; exit 1; }

start_ns=$(date +%s%N)
timeout 300 rm -r "$work/n1/mnt/d"
rm_ns=$(date +%s%N)
# Settled: the version has not moved for a second (the releases trail the removals by a linger and a commit).
last=$(version 1); still=0; settled_ns=$rm_ns
for _ in $(seq 1 300); do
  sleep 0.2
  now=$(version 1)
  if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; last=$now; settled_ns=$(date +%s%N); fi
  [ "$still" -ge 5 ] && break
done
awk -v t="$tag" -v f="$files" -v a="$start_ns" -v r="$rm_ns" -v s="$settled_ns" -v b="$before" -v e="$last" \
  'BEGIN { printf "%s deletes %d files: rm %.2f s, settled %.2f s, %d commits (%.2f per file)\n", t, f, (r - a) / 1e9, (s - a) / 1e9, e - b, (e - b) / f }'
