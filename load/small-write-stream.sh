#!/usr/bin/env bash
# A stream of small writes to one file on one mount: `dd if=/dev/zero of=MNT/f bs=4k count=N` (a fresh file per run;
# the time includes the close, so the file's last commit). Prints MiB/s and, for a dino-node, the FUSE requests per
# write(2) by operation, from the node's own counters (`--metrics`, as count-fuse-requests.sh reads them).
#   sudo load/small-write-stream.sh EXE [N] [RUNS]   # EXE: a dino-node executable, or the word bindfs
# Bounded: the node has 600 s, the mount 20 s; RUNS runs (default 1) on one mount.
set -uo pipefail
exe=$1; n=${2:-20000}; runs=${3:-1}
addr=127.0.0.78
d=$(mktemp -d /tmp/small-writes.XXXXXX); mkdir -p "$d/mnt" "$d/data"
if [ "$exe" = bindfs ]; then
  bindfs -f -o default_permissions "$d/data" "$d/mnt" > "$d/log" 2>&1 &
else
  timeout 600 "$exe" --mount "$d/mnt" --data-dir "$d/data" --advertise $addr:7946 --metrics $addr:9464 \
    --membership-profile local > "$d/log" 2>&1 &
fi
daemon=$!
for _ in $(seq 1 200); do mountpoint -q "$d/mnt" && break; sleep 0.1; done
mountpoint -q "$d/mnt" || { echo "no mount; log: $d/log" >&2; kill $daemon; exit 1; }
scrape() { if [ "$exe" != bindfs ]; then curl -s $addr:9464/metrics | grep -E 'dinomesh_fuse_request_duration_seconds_count' > "$1"; else : > "$1"; fi; }
for r in $(seq 1 "$runs"); do
  scrape "$d/before"
  start=$(date +%s.%N)
  dd if=/dev/zero of="$d/mnt/f$r" bs=4k count="$n" status=none
  end=$(date +%s.%N)
  scrape "$d/after"
  python3 - "$d/before" "$d/after" "$n" "$start" "$end" <<'PY'
import re, sys
def read(path):
    counts = {}
    for line in open(path):
        op = re.search(r'op="(\w+)"', line).group(1)
        counts[op] = counts.get(op, 0) + float(line.split()[-1])
    return counts
before, after, n, start, end = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
seconds = end - start
delta = {op: after[op] - before.get(op, 0) for op in after if after[op] - before.get(op, 0)}
per_write = " ".join(f"{op} {c / n:.3f}" for op, c in sorted(delta.items()))
total = sum(delta.values()) / n if delta else float("nan")
print(f"{n * 4096 / 2**20 / seconds:7.1f} MiB/s  {seconds:.2f} s  requests per write {total:.3f} ({per_write})")
PY
done
if [ "$exe" = bindfs ]; then fusermount3 -u "$d/mnt" 2>/dev/null || umount "$d/mnt"; fi
kill $daemon 2>/dev/null; wait $daemon
mountpoint -q "$d/mnt" && { echo "still mounted: $d/mnt" >&2; exit 1; }
rm -rf "$d"
