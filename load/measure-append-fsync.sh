#!/usr/bin/env bash
# Small appends made durable one by one (a log, a journal): three local dino-nodes (--replicas 2, --gc-grace 4s, so
# replaced chunks are collected within seconds); on node1 a python loop of COUNT x (os.write of SIZE random bytes +
# os.fsync) on an O_APPEND file, timed (appends/s: the syscall path). Then it waits for node1's compactor to settle
# (its status counters unchanged for 3 s, at most 120 s; a node without compaction settles at once), lets garbage
# collection run, and prints the extents of the volume (status --json .extents: the file is all there is), the chunk
# files on each node, the background bytes rewritten per byte appended, and cold reads of the file (after sync and
# drop_caches) with `cat` on node1 and on node3, each checked against the SHA-256 of what was written.
#   sudo load/measure-append-fsync.sh DINO_DLL_OR_EXE PREFIX [COUNT] [SIZE]     # e.g. ... 127.0.76 5000 8192
# Needs root and /dev/fuse. Every wait has a deadline; on any exit the nodes are killed, the mounts lazily unmounted
# and the temp directory removed.
set -euo pipefail
dll=${1:?dino-node.dll or executable}
prefix=${2:?first three octets, e.g. 127.0.76}
count=${3:-5000}
size=${4:-8192}
[ "$(id -u)" -eq 0 ] || { echo "needs root (FUSE mounts, drop_caches)" >&2; exit 2; }
[ "$count" -le 100000 ] || { echo "COUNT at most 100000" >&2; exit 2; }
case "$dll" in *.dll) node=(dotnet "$dll") ;; *) node=("$dll") ;; esac

work=$(mktemp -d "${WORK_DIR:-/tmp}/dino-appendfsync-XXXXXX")
port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"$prefix.1\",0)); print(s.getsockname()[1])")
source "$(dirname "${BASH_SOURCE[0]}")/local-nodes.sh"
trap cleanup_nodes EXIT
trap 'exit 130' INT TERM

status_of() { timeout 10 "${node[@]}" status --json --data-dir "$work/n$1/data" 2>/dev/null; }
chunk_files() { find "$work/n$1/data/chunks" -type f -not -path '*quarantine*' 2>/dev/null | wc -l; }
now() { date +%s.%N; }

start_member 1 2 --gc-grace 4s
(umask 077; "${node[@]}" token --data-dir "$work/n1/data" > "$work/token")
start_member 2 2 --gc-grace 4s --join "$prefix.1:$port" --token-file "$work/token"
start_member 3 2 --gc-grace 4s --join "$prefix.1:$port" --token-file "$work/token"
wait_for 120 all_alive || { echo "the nodes did not list each other alive" >&2; exit 1; }

file="$work/n1/mnt/log"
read -r rate sha < <(python3 - "$file" "$count" "$size" <<'PY'
import hashlib, os, sys, time
path, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
h = hashlib.sha256()
t0 = time.perf_counter()
for i in range(count):
    piece = os.urandom(size)   # content of its own: chunks are content-addressed, a repeat would be deduplicated
    os.write(fd, piece)
    os.fsync(fd)
    h.update(piece)
t1 = time.perf_counter()
os.close(fd)
print(f"{count / (t1 - t0):.0f} {h.hexdigest()}")
PY
)
# Settled: node1's compaction counters (or their absence) unchanged over 3 polls 1 s apart.
t0=$(now); last=""; same=0
for _ in $(seq 1 120); do
  c=$(status_of 1 | jq -c '.compaction // "none"')
  if [ "$c" = "$last" ]; then same=$((same + 1)); [ $same -ge 3 ] && break; else same=0; last=$c; fi
  sleep 1
done
settle=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.0f", b-a-3}')
sleep 6   # two sweeps past the 4 s grace
st=$(status_of 1)
extents=$(jq '.extents // -1' <<< "$st")
rewritten=$(jq '.compaction.bytesRewritten // 0' <<< "$st")
compacted=$(jq '.compaction.compacted // 0' <<< "$st")
raced=$(jq '.compaction.raced // 0' <<< "$st")
amp=$(awk -v r="$rewritten" -v n="$count" -v s="$size" 'BEGIN{printf "%.2f", r/(n*s)}')
bytes=$((count * size))
files="$(chunk_files 1)/$(chunk_files 2)/$(chunk_files 3)"   # before the reads: node3 fetches what it lacks

cold_read() {
  sync; echo 3 > /proc/sys/vm/drop_caches
  local t0 t1 got
  t0=$(now); got=$(sha256sum < "$1" | cut -d' ' -f1); t1=$(now)
  [ "$got" = "$sha" ] || { echo "$1 reads back wrong ($got, wrote $sha)" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" -v n="$bytes" 'BEGIN{printf "%.0f ms %.0f MB/s", (b-a)*1000, n/(b-a)/1e6}'
}
wait_for 30 test "$(stat -c %s "$work/n3/mnt/log" 2>/dev/null || echo 0)" = "$bytes" || { echo "node3 does not see the whole file" >&2; exit 1; }
local_read=$(cold_read "$file")
remote_read=$(cold_read "$work/n3/mnt/log")
echo "$(date -u +%T) ${node[*]} ${count}x${size}: ${rate} appends/s; settled in ${settle} s; extents ${extents}; chunk files n1/n2/n3 ${files}; compacted ${compacted} (raced ${raced}), rewritten ${rewritten} B = ${amp}x; cold read n1 ${local_read}, n3 ${remote_read}"
