#!/usr/bin/env bash
# A node far behind catching up by snapshot, and how much of its install holds the lease driver's lock. Founds 3
# nodes on PREFIX.1-3 that snapshot (and so compact their logs) every 2,000 entries, writes FILES files of 4 KiB on
# node 1 (four writers; their bytes are inline in the state, so the snapshot is about 4.2 KB a file), then adds node
# 4, which can only catch up by snapshot. Prints node 4's log lines about the snapshot (a build with the install off
# the lock logs how long its preparation took off the lock and how long the install held it) and one line:
#   TAG snapshot-install FILES files: catch-up C s
#   sudo load/measure-snapshot-install.sh NODE [FILES] [PREFIX] [TAG]    # defaults: 30000, 127.0.64, run
# NODE is a dino-node executable or .dll. Needs root and /dev/fuse. Every wait has a deadline; on any exit the nodes
# are killed, the mounts lazily unmounted and the temp directory removed. (Node 4's control socket comes up only
# once it has caught up, so asking it for status cannot see the install from outside.)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dll=$1; files=${2:-30000}; prefix=${3:-127.0.64}; tag=${4:-run}
case "$dll" in *.dll) node=(dotnet "$dll") ;; *) node=("$dll") ;; esac
[ "$(id -u)" -eq 0 ] || { echo "needs root (FUSE mounts)" >&2; exit 2; }
export DINOMESH_SNAPSHOT_EVERY=2000
work=$(mktemp -d /var/tmp/dino-snapinstall-XXXXXX)
# shellcheck source=load/local-nodes.sh
. "$repo/load/local-nodes.sh"
trap cleanup_nodes EXIT

start_node 1
token=$(founder_token)
start_node 2 --join "$prefix.1:7946" --token "$token"
start_node 3 --join "$prefix.1:7946" --token "$token"
wait_for 60 mountpoint -q "$work/n3/mnt" || { echo "node 3 did not mount" >&2; exit 1; }
wait_for 60 mountpoint -q "$work/n2/mnt" || { echo "node 2 did not mount" >&2; exit 1; }
timeout 900 python3 - "$work/n1/mnt" "$files" <<'PY'
import os, sys
from multiprocessing import Pool
root, n = sys.argv[1], int(sys.argv[2])
def fill(d):
    block = os.urandom(4096)
    os.mkdir(f"{root}/d{d}")
    for i in range(d * 1000, min(n, d * 1000 + 1000)):
        with open(f"{root}/d{d}/f{i}", "wb") as f:
            f.write(block[i % 64:] + block[:i % 64])
with Pool(4) as pool:
    pool.map(fill, range((n + 999) // 1000))
PY
target=$(timeout 10 "${node[@]}" status --json --data-dir "$work/n1/data" | jq .commitVersion)
start_node 4 --join "$prefix.1:7946" --token "$token"
began=$SECONDS; caught=""
while [ $((SECONDS - began)) -lt 300 ]; do
  applied=$(timeout 20 "${node[@]}" status --json --data-dir "$work/n4/data" 2>/dev/null | jq .appliedVersion 2>/dev/null || true)
  if [ "${applied:-0}" -ge "$target" ] 2>/dev/null; then caught=$((SECONDS - began)); break; fi
  sleep 0.2
done
grep -E "snapshot" "$work/n4/log" | sed 's/^/  node4: /' | cut -c1-220 >&2 || true
echo "$tag snapshot-install $files files: catch-up ${caught:-timeout} s"
