#!/usr/bin/env bash
# Builds DinoMesh (Release), installs the tools the benchmark drives, prints the machine, and runs dino-load.
# Without a scenario name: the single-node file-system benchmark (native disk vs bindfs vs dino-node), e.g.
#   load/run-bench.sh                                  # full: 1 GiB file, 10,000 small files, median of 3 runs, all targets
#   load/run-bench.sh --quick --targets native,bindfs  # smoke run in seconds
#   load/run-bench.sh --fio                            # also fio 4 KiB randwrite/randread
# With one: a cluster scenario on a throwaway cluster of local dino-nodes (or on --mount DIR ... that exist), e.g.
#   load/run-bench.sh small-files --nodes 3 --duration 20s
#   load/run-bench.sh all --nodes 3 --duration 30s
#   load/run-bench.sh small-files --nodes 1 --references native,bindfs
# Reports go to load/results/ (bench-<time>.* / load-<time>.* and latest*). Run as root (FUSE mounts, dropped caches).
# Set SKIP_BUILD=1 to reuse existing Release binaries.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ "${SKIP_BUILD:-0}" != "1" ]; then
  echo "== build (Release)"
  dotnet build -c Release "$repo/DinoMesh.sln" -nologo -v quiet
fi

echo "== dependencies"
"$repo/scripts/install-deps.sh"

echo "== machine"
echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "cores:   $(nproc)"
echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1024/1024}' /proc/meminfo)"
echo "kernel:  $(uname -r)"
echo "os:      $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "disk:    $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2 " on " $1 " (" $7 ")"}') for ${TMPDIR:-/tmp}"
echo "dotnet:  $(dotnet --version)"
echo "bindfs:  $(bindfs --version 2>/dev/null | head -1)"
echo "fio:     $(fio --version 2>/dev/null)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; other work on the machine skews the numbers)"
[ "$(id -u)" -eq 0 ] || echo "warning: not root: caches cannot be dropped, seq-read-cold will not be cold" >&2

echo "== benchmark"
dll="$repo/load/DinoMesh.Load/bin/Release/net10.0/dino-load.dll"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  # A scenario subcommand: its options follow its name.
  scenario=$1; shift
  exec dotnet "$dll" "$scenario" --out "$repo/load/results" "$@"
fi
exec dotnet "$dll" --out "$repo/load/results" "$@"
