# Sourced by the load/measure-*.sh scripts: dino-nodes on loopback addresses of this machine, in a temp directory.
# The caller sets `node` (the command array), `prefix` (first three octets) and `work` (from mktemp -d), then calls
# `trap cleanup_nodes EXIT`, `start_node I [OPTIONS...]` or (with `port` set) `start_member I REPLICAS [OPTIONS...]`,
# and `founder_token`; `wait_for` and `all_alive` poll with a deadline. Every wait has a deadline.
pids=()

# Kills the nodes, lazily unmounts their mounts and removes the temp directory. The mount table, not a glob: a glob
# stats each mount point, which fails on a mount whose daemon is gone (ENOTCONN), and then matches nothing.
cleanup_nodes() {
  local p m _
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  { wait "${pids[@]}"; } 2>/dev/null || true
  for _ in 1 2 3; do
    for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts); do umount -l "$m" 2>/dev/null || true; done
    grep -q " $work/" /proc/mounts || break
    sleep 0.5
  done
  grep -q " $work/" /proc/mounts && { echo "could not unmount under $work; left it" >&2; return; }
  rm -rf "$work"
}

# Node I on $prefix.I:7946 with its mount and data directory under $work/nI; log in $work/nI/log.
start_node() {
  local i=$1; shift
  mkdir -p "$work/n$i/mnt" "$work/n$i/data"
  "${node[@]}" --mount "$work/n$i/mnt" --data-dir "$work/n$i/data" --listen "$prefix.$i:7946" "$@" > "$work/n$i/log" 2>&1 &
  pids+=($!)
}

# Waits for node 1's lease and prints a join token from it (exits the script when it cannot).
founder_token() {
  local token="" _
  for _ in $(seq 1 150); do grep -q "lease: started" "$work/n1/log" 2>/dev/null && break; sleep 0.2; done
  grep -q "lease: started" "$work/n1/log" || { echo "the founder did not start within 30 s:" >&2; tail -5 "$work/n1/log" >&2; exit 1; }
  # The control socket that answers "token" may come up a moment after the lease starts: ask again until it answers.
  for _ in $(seq 1 20); do
    token=$(timeout 20 "${node[@]}" token --data-dir "$work/n1/data" 2>/dev/null | tail -1) && [ -n "$token" ] && break
    sleep 0.5
  done
  [ -n "$token" ] || { echo "the founder did not hand out a join token" >&2; exit 1; }
  echo "$token"
}

# Runs "$@" every 0.2 s until it succeeds or LIMIT seconds have passed (then returns 1).
wait_for() { local limit=$1; shift; local end=$((SECONDS + limit)); until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done; }

# True when node 1 lists N members (default 3) as alive.
all_alive() { [ "$(timeout 10 "${node[@]}" peers --json --data-dir "$work/n1/data" 2>/dev/null | jq '[.[] | select(.state == "alive")] | length')" = "${1:-3}" ]; }

# Member I on $prefix.I:$port, advertised there, with the local membership profile and --replicas REPLICAS, killed
# with this script (pdeathsig); waits up to 60 s for its mount and exits the script when it does not come.
start_member() {
  local i=$1 replicas=$2; shift 2
  mkdir -p "$work/n$i/mnt" "$work/n$i/data"
  setpriv --pdeathsig KILL -- "${node[@]}" --mount "$work/n$i/mnt" --data-dir "$work/n$i/data" --listen "$prefix.$i:$port" \
    --advertise "$prefix.$i:$port" --membership-profile local --replicas "$replicas" "$@" > "$work/n$i/log" 2>&1 &
  pids+=($!)
  wait_for 60 mountpoint -q "$work/n$i/mnt" || { echo "node$i did not mount:" >&2; tail -5 "$work/n$i/log" >&2; exit 1; }
}
