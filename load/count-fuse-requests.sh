#!/usr/bin/env bash
# FUSE requests per small file, by operation (issue 9): one dino-node founds a cluster of its own with `--metrics`,
# a Python loop creates N files (open O_CREAT|O_EXCL, WRITES pwrites of 4 KiB, close), and the node's own
# `dinomesh_fuse_request_duration` counts before and after give the requests per file by operation and errno, with the
# mean time our side spent on each. The kernel sends the same requests to any FUSE server, so the counts say what a
# change of INIT flags does to the kernel's traffic; the time per request is ours only (not the kernel's round trip).
#   sudo load/count-fuse-requests.sh EXE [N]     # EXE: a dino-node executable (a Native AOT publish, or a wrapper)
# WRITES=k writes k blocks per file (default 1). .NET's File.OpenHandle adds a STATFS per file that this loop does not.
# Bounded: the node has 120 s, the mount 20 s.
set -uo pipefail
exe=$1; n=${2:-500}; writes=${WRITES:-1}
addr=127.0.0.77
d=$(mktemp -d /tmp/fuse-requests.XXXXXX); mkdir -p "$d/mnt" "$d/data"
timeout 120 "$exe" --mount "$d/mnt" --data-dir "$d/data" --advertise $addr:7946 --metrics $addr:9464 \
  --membership-profile local > "$d/log" 2>&1 &
node=$!
for _ in $(seq 1 200); do mountpoint -q "$d/mnt" && break; sleep 0.1; done
mountpoint -q "$d/mnt" || { echo "the node did not mount; log: $d/log" >&2; kill $node; exit 1; }
mkdir "$d/mnt/w"; sleep 0.5
scrape() { curl -s $addr:9464/metrics | grep -E 'dinomesh_fuse_request_duration_seconds_(count|sum)' > "$1"; }
scrape "$d/before"
python3 - "$d/mnt/w" "$n" "$writes" <<'PY'
import os, sys
directory, n, writes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = os.urandom(4096)
for i in range(n):
    fd = os.open(f"{directory}/f{i}", os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
    for k in range(writes):
        os.pwrite(fd, block, k * 4096)
    os.close(fd)
PY
sleep 0.5
scrape "$d/after"
grep -o "FUSE session: .*" "$d/log" | head -1
python3 - "$d/before" "$d/after" "$n" <<'PY'
import re, sys
def read(path):
    counts, sums = {}, {}
    for line in open(path):
        op = re.search(r'op="(\w+)"', line).group(1)
        errno = re.search(r'errno="(\w+)"', line).group(1)
        table = counts if "_count" in line.split()[0] else sums
        table[(op, errno)] = table.get((op, errno), 0) + float(line.split()[-1])
    return counts, sums
(c0, s0), (c1, s1), n = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
total = 0
for key in sorted(c1):
    count = c1[key] - c0.get(key, 0)
    if count:
        spent = s1.get(key, 0) - s0.get(key, 0)
        print(f"{key[0]:>10} errno {key[1]:>3}: {count / n:.2f} per file, {spent / count * 1e6:.0f} us each")
        total += count
print(f"total: {total / n:.2f} requests per file")
PY
kill $node; wait $node
# never remove the directory while the volume is still mounted under it
mountpoint -q "$d/mnt" && { echo "still mounted: $d/mnt" >&2; exit 1; }
rm -rf "$d"
