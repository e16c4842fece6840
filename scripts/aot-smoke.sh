#!/usr/bin/env bash
# Publishes dino-node as a Native AOT executable and proves it works for real: three nodes on PREFIX.1-3 with FUSE
# mounts (node 1 also serves the status page and /metrics), a file written on one node read on the others, a
# directory made, `peers` and `status`, then kill -9 of the lease holder: the other two must elect a new holder and
# take a write within the deadline. Also fails if the publish printed any trim/AOT warning other than MessagePack's
# two known summary warnings (see src/DinoMesh.Node/DinoMesh.Node.csproj).
#   sudo bash scripts/aot-smoke.sh                 # publish (1.5-2 min on 2 cores), then the check (under a minute)
#   sudo bash scripts/aot-smoke.sh /path/dino-node # check an executable published before (no publish)
# PREFIX default 127.0.66 (loopback only). Every wait has a deadline; on any exit the nodes are killed, the mounts
# lazily unmounted and the temp directory removed. Not run by CI (the publish alone takes longer than a test should).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-127.0.66}
[ "$(id -u)" -eq 0 ] || { echo "aot-smoke: needs root (FUSE mounts)" >&2; exit 2; }

work=$(mktemp -d /tmp/dino-aot-smoke-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  { wait "${pids[@]}"; } 2>/dev/null || true
  for i in 1 2 3; do umount -l "$work/n$i/mnt" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "aot-smoke: FAILED: $*" >&2; for i in 1 2 3; do [ -f "$work/n$i/log" ] && { echo "--- node $i" >&2; tail -n 15 "$work/n$i/log" >&2; }; done; exit 1; }

if [ $# -ge 1 ]; then
  bin=$1
else
  echo "aot-smoke: publishing (Native AOT) ..." >&2
  t0=$(date +%s)
  dotnet publish "$repo/src/DinoMesh.Node" -c Release -r linux-x64 -p:PublishAot=true -o "$work/pub" -nologo \
    >"$work/publish.log" 2>&1 || { tail -n 30 "$work/publish.log" >&2; fail "publish"; }
  echo "aot-smoke: published in $(( $(date +%s) - t0 )) s, $(du -m "$work/pub/dino-node" | cut -f1) MiB" >&2
  # Any warning but MessagePack's summary pair (IL2104/IL3053 on MessagePack.dll) is new and must be looked at.
  others=$(grep -E ': warning (IL|CS|NU|NETSDK)[0-9]+' "$work/publish.log" | grep -vE "MessagePack\.dll : warning IL(2104|3053)" | sort -u || true)
  [ -z "$others" ] || { echo "$others" >&2; fail "the publish printed trim/AOT or build warnings besides MessagePack's"; }
  bin=$work/pub/dino-node
fi
[ -x "$bin" ] || fail "no executable $bin"
[ "$(head -c 4 "$bin" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || fail "$bin is not a native (ELF) executable"

node() { "$bin" "$@"; }
start() {
  local i=$1; shift
  mkdir -p "$work/n$i/mnt" "$work/n$i/data"
  "$bin" --mount "$work/n$i/mnt" --data-dir "$work/n$i/data" --listen "$prefix.$i:7946" --membership-profile local "$@" \
    >"$work/n$i/log" 2>&1 &
  pids[$i]=$!
}
wait_for() {  # $1 = deadline in tenths of a second, then a command
  local n=$1; shift
  for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

start 1 --metrics "$prefix.1:9464"
wait_for 300 mountpoint -q "$work/n1/mnt" || fail "node 1 did not mount within 30 s"
token=""
for _ in $(seq 1 20); do token=$(timeout 20 "$bin" token --data-dir "$work/n1/data" 2>/dev/null | tail -1) && [ -n "$token" ] && break; sleep 0.5; done
[ -n "$token" ] || fail "node 1 handed out no token"
start 2 --join "$prefix.1:7946" --token "$token"
start 3 --join "$prefix.1:7946" --token "$token"
wait_for 600 mountpoint -q "$work/n2/mnt" || fail "node 2 did not mount within 60 s"
wait_for 600 mountpoint -q "$work/n3/mnt" || fail "node 3 did not mount within 60 s"

alive3() { [ "$(node peers --json --data-dir "$work/n$1/data" | grep -o '"state":"alive"' | wc -l)" -eq 3 ]; }
for i in 1 2 3; do wait_for 300 alive3 "$i" || fail "node $i does not list three alive members"; done
node peers --data-dir "$work/n1/data"
node status --data-dir "$work/n2/data" | grep -E '^(node|lease|quorum|peers|version) ' || fail "status"

# Files across nodes: small and chunked, a directory, read back where they were not written.
echo "written on node 1" >"$work/n1/mnt/hello.txt"
head -c 3000000 /dev/urandom >"$work/n2/mnt/big.bin"
mkdir "$work/n3/mnt/dir"
sum=$(sha256sum <"$work/n2/mnt/big.bin" | cut -d' ' -f1)
same_file() { [ "$(cat "$work/n$1/mnt/hello.txt")" = "written on node 1" ] && [ "$(sha256sum <"$work/n$1/mnt/big.bin" | cut -d' ' -f1)" = "$sum" ] && [ -d "$work/n$1/mnt/dir" ]; }
for i in 1 2 3; do wait_for 100 same_file "$i" || fail "node $i does not read the files the others wrote"; done
echo "aot-smoke: files written on nodes 1, 2, 3 read back on all three" >&2

# Every node at one version has one state hash.
same_hash() { [ "$(node statehash --data-dir "$work/n1/data")" = "$(node statehash --data-dir "$work/n2/data")" ] && [ "$(node statehash --data-dir "$work/n2/data")" = "$(node statehash --data-dir "$work/n3/data")" ]; }
wait_for 100 same_hash || fail "statehash differs between nodes"

# The status page, its JSON and the Prometheus endpoint (Kestrel, source-generated JSON, the OpenTelemetry exporter).
# (Each answer to a file first: `curl | grep -q` fails under pipefail when grep stops reading early.)
curl -fsS -o "$work/status.json" "http://$prefix.1:9464/status.json" && grep -q '"state":"running"' "$work/status.json" || fail "status.json"
curl -fsS -o "$work/index.html" "http://$prefix.1:9464/" && grep -qi "<html" "$work/index.html" || fail "status page"
curl -fsS -o "$work/metrics" "http://$prefix.1:9464/metrics" && grep -q "^dinomesh_" "$work/metrics" || fail "/metrics"
echo "aot-smoke: status page, status.json and /metrics answer" >&2

# kill -9 of the lease holder: the two others elect a holder and commit a write. First the joiners must be voters
# (they join as learners and are promoted once caught up): with one voter, its loss leaves no majority.
voters3() { [ "$(node peers --json --data-dir "$work/n1/data" | grep -oE '"role":"(voter|holder)"' | wc -l)" -eq 3 ]; }
wait_for 300 voters3 || fail "the joiners were not promoted to voters within 30 s"
holder=$(node status --json --data-dir "$work/n1/data" | grep -o '"holder":"[0-9a-f]*"' | cut -d'"' -f4)
victim=""
for i in 1 2 3; do
  id=$(node status --json --data-dir "$work/n$i/data" | grep -o '"peerId":"[0-9a-f]*"' | cut -d'"' -f4)
  [ "$id" = "$holder" ] && victim=$i
done
[ -n "$victim" ] || fail "no node holds the lease"
kill -9 "${pids[$victim]}"; { wait "${pids[$victim]}"; } 2>/dev/null || true
umount -l "$work/n$victim/mnt"
survivors=(); for i in 1 2 3; do [ "$i" != "$victim" ] && survivors+=("$i"); done
new_holder() { local h; h=$(node status --json --data-dir "$work/n${survivors[0]}/data" | grep -o '"holder":"[0-9a-f]*"' | cut -d'"' -f4); [ -n "$h" ] && [ "$h" != "$holder" ]; }
wait_for 300 new_holder || fail "no new holder within 30 s of kill -9 of node $victim"
echo "after fail-over" >"$work/n${survivors[0]}/mnt/after.txt" || fail "write after fail-over"
read_after() { [ "$(cat "$work/n${survivors[1]}/mnt/after.txt")" = "after fail-over" ]; }
wait_for 100 read_after || fail "the write after fail-over did not show on node ${survivors[1]}"
[ "$(sha256sum <"$work/n${survivors[1]}/mnt/big.bin" | cut -d' ' -f1)" = "$sum" ] || fail "big.bin changed after fail-over"
node status --data-dir "$work/n${survivors[1]}/data" | grep -E '^(lease|quorum) '
# The dead node removed for good (a commit through the new holder), then a graceful leave.
victim_id=$(node peers --json --data-dir "$work/n${survivors[0]}/data" | grep -o '"id":"[0-9a-f]*","address":"'"$prefix.$victim"':' | cut -d'"' -f4)
[ -n "$victim_id" ] || fail "the dead node is not listed"
node remove "${victim_id:0:12}" --data-dir "$work/n${survivors[0]}/data" || fail "remove of the dead node"
node leave --data-dir "$work/n${survivors[1]}/data" || fail "leave"
left() { ! kill -0 "${pids[${survivors[1]}]}" 2>/dev/null; }
wait_for 300 left || fail "node ${survivors[1]} did not stop after leave"
echo "aot-smoke: killed holder node $victim; new holder elected, writes go on: PASSED" >&2
