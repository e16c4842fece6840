#!/usr/bin/env bash
# The chunk path between nodes (issue 10), at the dd level: three local dino-nodes with --replicas R; FILES files of
# SIZE MiB, each with content of its own (chunks are content-addressed: a repeated file would measure deduplication),
# written on node1 with `dd bs=1M conv=fsync`, then, after `sync` and dropping the kernel's caches, read cold on
# node3 with `dd bs=1M` and compared with the source. Per file it prints wall time, MiB/s and the CPU the three
# nodes used (utime + stime from /proc/PID/stat) for the write and for the read. The first file warms the nodes up
# (JIT, connections) and is reported but marked.
#   sudo load/measure-chunk-path.sh DINO_DLL_OR_EXE PREFIX [REPLICAS] [FILES] [SIZE_MIB]   # e.g. ... 127.0.75 2 4 256
# The writer's own copy is one of the R: with R = 2 over 3 nodes node1 pushes each chunk once, to node2 or node3, so
# node3 holds about half of the chunks after the write (it fetches the other half); with R = 1 node1 pushes nothing and
# node3 fetches every chunk, except those its repair scan (every 30 s) pulled as their placement node in the meantime.
# Needs root and /dev/fuse. Every wait has a deadline; on any exit the
# nodes are killed, the mounts lazily unmounted and the temp directories removed. WORK_DIR=D puts the nodes' data
# directories and mounts under D instead of /tmp (see docs/benchmarks.md on file creation in a churned /tmp).
set -euo pipefail
dll=${1:?dino-node.dll or executable}
prefix=${2:?first three octets, e.g. 127.0.75}
replicas=${3:-2}
files=${4:-4}
size_mib=${5:-256}
[ "$(id -u)" -eq 0 ] || { echo "needs root (FUSE mounts, drop_caches)" >&2; exit 2; }
case "$dll" in *.dll) node=(dotnet "$dll") ;; *) node=("$dll") ;; esac

work=$(mktemp -d "${WORK_DIR:-/tmp}/dino-chunkpath-XXXXXX")
src=$(mktemp -d /dev/shm/dino-chunkpath-XXXXXX)
port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"$prefix.1\",0)); print(s.getsockname()[1])")
source "$(dirname "${BASH_SOURCE[0]}")/local-nodes.sh"
cleanup() { cleanup_nodes; rm -rf "$src"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

ticks() { local t=0 p; for p in "${pids[@]}"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
now() { date +%s.%N; }
rate() { awk -v a="$1" -v b="$2" -v m="$size_mib" 'BEGIN{printf "%6.0f ms %5.0f MiB/s", (b-a)*1000, m/(b-a)}'; }
# PERF_FILE=N PERF_DIR=D: `perf record -g` of the three nodes during file N's write and read (D/write.data, D/read.data);
# start the nodes with DOTNET_PerfMapEnabled=1 in the environment for managed symbols. PERF_EVENTS=E records E
# (e.g. sched:sched_switch) instead of CPU samples. PERF_ALL=1 records the whole machine (-a: dd, kernel threads and
# softirqs too), PERF_FREQ=F samples at F Hz.
perf_pid=""
profile() { [ "${PERF_FILE:-0}" = "$1" ] || return 0; local who=(-p "$(IFS=,; echo "${pids[*]}")"); [ "${PERF_ALL:-0}" = 1 ] && who=(-a); perf record -q -g ${PERF_FREQ:+-F "$PERF_FREQ"} ${PERF_EVENTS:+-e "$PERF_EVENTS"} -o "$PERF_DIR/$2.data" "${who[@]}" 2>/dev/null & perf_pid=$!; sleep 1; }
unprofile() { [ -n "$perf_pid" ] || return 0; kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; perf_pid=""; }
# STRACE_FILE=N STRACE_DIR=D: `strace -c -f` of node1 (the serving node with R = 1) and node3 (the reader) during file
# N's read, a count of system calls by kind (D/read-node1.txt, D/read-node3.txt); the read is much slower under it.
# STRACE_ARGS replaces `-c` (e.g. STRACE_ARGS="-e trace=connect,accept4,openat" to see each call and its path).
strace_pids=()
trace() { [ "${STRACE_FILE:-0}" = "$1" ] || return 0; local i; for i in 1 3; do strace ${STRACE_ARGS:--c} -f -o "$STRACE_DIR/$2-node$i.txt" -p "${pids[$((i - 1))]}" 2>/dev/null & strace_pids+=($!); done; sleep 2; }
untrace() { local p; for p in "${strace_pids[@]}"; do kill -INT "$p"; wait "$p" 2>/dev/null || true; done; strace_pids=(); }
# PERFSTAT_FILE=N PERFSTAT_DIR=D: `perf stat` of node1 (the serving node with R = 1) and node3 (the reader) during file
# N's read: system calls, context switches, task clock, and the calls the socket engine waits and receives with
# (D/read-node1.txt, D/read-node3.txt), and the connects (bulk connections dialled; accept4 counts EAGAIN too),
# statx and sync_file_range calls. Costs the nodes little, unlike strace. PERFSTAT_EVENTS=E counts E instead (e.g.
# 'syscalls:sys_enter_*,context-switches,task-clock': every system call by kind, without slowing the read as strace does).
perfstat_pids=()
pstat() { [ "${PERFSTAT_FILE:-0}" = "$1" ] || return 0; local i; for i in 1 3; do perf stat -e "${PERFSTAT_EVENTS:-raw_syscalls:sys_enter,context-switches,task-clock,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_setsockopt,syscalls:sys_enter_connect,syscalls:sys_enter_accept4,syscalls:sys_enter_statx,syscalls:sys_enter_sync_file_range}" -o "$PERFSTAT_DIR/$2-node$i.txt" -p "${pids[$((i - 1))]}" 2>/dev/null & perfstat_pids+=($!); done; sleep 1; }
unpstat() { local p; for p in "${perfstat_pids[@]}"; do kill -INT "$p"; wait "$p" 2>/dev/null || true; done; perfstat_pids=(); }
size_on() { [ "$(stat -c %s "$work/n$1/mnt/$2" 2>/dev/null || echo 0)" = "$((size_mib << 20))" ]; }

for f in $(seq 1 "$files"); do head -c "$((size_mib << 20))" /dev/urandom > "$src/f$f"; done
start_member 1 "$replicas"
(umask 077; "${node[@]}" token --data-dir "$work/n1/data" > "$work/token")
start_member 2 "$replicas" --join "$prefix.1:$port" --token-file "$work/token"
start_member 3 "$replicas" --join "$prefix.1:$port" --token-file "$work/token"
wait_for 120 all_alive || { echo "the nodes did not list each other alive" >&2; exit 1; }
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); R=$replicas, $files x $size_mib MiB, $prefix.1-3, ${node[*]}"

# Chunk counters from `status --json` (outside the timed parts): copies node1 pushed, and per node the chunks it lacks
# for placement, its repair queue and what repair copied to it.
chunks_of() { timeout 10 "${node[@]}" status --json --data-dir "$work/n$1/data" 2>/dev/null | jq -r ".chunks.$2 // 0"; }
settled() { local i; for i in 1 2 3; do [ "$(chunks_of $i missing)" = 0 ] && [ "$(chunks_of $i repairQueue)" = 0 ] || return 1; done; }
run_c0=$(ticks); run_t0=$(now)
for f in $(seq 1 "$files"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  profile "$f" write
  p0=$(chunks_of 1 pushed)
  c0=$(ticks); t0=$(now)
  dd if="$src/f$f" of="$work/n1/mnt/f$f" bs=1M conv=fsync status=none
  t1=$(now); c1=$(ticks)
  unprofile
  p1=$(chunks_of 1 pushed)
  wait_for 30 size_on 3 "f$f" || { echo "node3 does not see f$f" >&2; exit 1; }
  sync; echo 3 > /proc/sys/vm/drop_caches
  profile "$f" read
  trace "$f" read
  pstat "$f" read
  c2=$(ticks); t2=$(now)
  dd if="$work/n3/mnt/f$f" of=/dev/null bs=1M status=none
  t3=$(now); c3=$(ticks)
  unpstat
  untrace
  unprofile
  cmp -s "$src/f$f" "$work/n3/mnt/f$f" && ok=same || ok=DIFFERENT
  printf 'file %d%s load %5s | write %s cpu %5d ms | read node3 %s cpu %5d ms | %s | pushed %d\n' "$f" "$([ "$f" = 1 ] && echo '*' || echo ' ')" "$load" \
    "$(rate "$t0" "$t1")" "$(((c1 - c0) * 10))" "$(rate "$t2" "$t3")" "$(((c3 - c2) * 10))" "$ok" "$((p1 - p0))"
  rm -f "$src/f$f"
done
# What the write path left for later (a placement node pulling what its writer stood in for) counts too: wait (at most
# 90 s) until no node lacks a chunk it places, then the nodes' CPU over the whole run.
t4=$(now)
wait_for 90 settled || echo "# not settled within 90 s" >&2
t5=$(now); c5=$(ticks)
printf '# settled %.1f s after the last read; repaired node2 %s node3 %s; node CPU over the run %d ms in %.1f s\n' \
  "$(awk -v a="$t4" -v b="$t5" 'BEGIN{print b-a}')" "$(chunks_of 2 repaired)" "$(chunks_of 3 repaired)" "$(((c5 - run_c0) * 10))" \
  "$(awk -v a="$run_t0" -v b="$t5" 'BEGIN{print b-a}')"
