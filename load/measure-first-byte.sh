#!/usr/bin/env bash
# First-byte latency of a cold read (issue 10): three local dino-nodes with --replicas 1, FILES files of SIZE MiB written
# on node1 (so node1 holds every chunk and node3 none), then per file, after `sync` and dropping the kernel's caches,
# the time of one 4 KiB read at offset 0 on node3 (remote: the whole first chunk is fetched and hashed before the
# byte is served) and then, caches dropped again, on node1 (local: the whole first chunk is read and checked). The
# open is outside the timed part; each file is read once per node, so no node has the chunk in memory before.
#   sudo load/measure-first-byte.sh DINO_DLL_OR_EXE PREFIX [FILES] [SIZE_MIB]   # e.g. ... 127.0.88 8 16
# The chunk size is the nodes' own (DINOMESH_CHUNK_SIZE in the environment reaches them). Needs root and /dev/fuse.
# Every wait has a deadline; on any exit the nodes are killed, the mounts lazily unmounted and the temp directory removed.
set -euo pipefail
dll=${1:?dino-node.dll or executable}
prefix=${2:?first three octets, e.g. 127.0.88}
files=${3:-8}
size_mib=${4:-16}
[ "$(id -u)" -eq 0 ] || { echo "needs root (FUSE mounts, drop_caches)" >&2; exit 2; }
case "$dll" in *.dll) node=(dotnet "$dll") ;; *) node=("$dll") ;; esac

work=$(mktemp -d "${WORK_DIR:-/var/tmp}/dino-firstbyte-XXXXXX")
port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"$prefix.1\",0)); print(s.getsockname()[1])")
source "$(dirname "${BASH_SOURCE[0]}")/local-nodes.sh"
trap cleanup_nodes EXIT
trap 'exit 130' INT TERM

size_on() { [ "$(stat -c %s "$work/n$1/mnt/$2" 2>/dev/null || echo 0)" = "$((size_mib << 20))" ]; }
# Microseconds of one pread of 4 KiB at offset 0 (open before the clock starts); fails unless 4 KiB came back.
first_read_us() {
  python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
t0 = time.perf_counter_ns(); n = len(os.pread(fd, 4096, 0)); t1 = time.perf_counter_ns()
os.close(fd)
assert n == 4096, n
print((t1 - t0) // 1000)' "$1"
}

start_member 1 1
(umask 077; "${node[@]}" token --data-dir "$work/n1/data" > "$work/token")
start_member 2 1 --join "$prefix.1:$port" --token-file "$work/token"
start_member 3 1 --join "$prefix.1:$port" --token-file "$work/token"
wait_for 120 all_alive || { echo "the nodes did not list each other alive" >&2; exit 1; }
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); R=1, $files x $size_mib MiB, chunk size ${DINOMESH_CHUNK_SIZE:-default}, ${node[*]}"
for f in $(seq 1 "$files"); do
  head -c "$((size_mib << 20))" /dev/urandom | dd of="$work/n1/mnt/f$f" bs=1M iflag=fullblock conv=fsync status=none
done
for f in $(seq 1 "$files"); do wait_for 30 size_on 3 "f$f" || { echo "node3 does not see f$f" >&2; exit 1; }; done
remote=() local_=()
for f in $(seq 1 "$files"); do
  sync; echo 3 > /proc/sys/vm/drop_caches
  r=$(first_read_us "$work/n3/mnt/f$f")
  sync; echo 3 > /proc/sys/vm/drop_caches
  l=$(first_read_us "$work/n1/mnt/f$f")
  remote+=("$r") local_+=("$l")
  echo "file $f | first 4 KiB remote (node3) $r us | local (node1) $l us"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
echo "# median first 4 KiB: remote $(median "${remote[@]}") us, local $(median "${local_[@]}") us"
