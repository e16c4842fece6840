#!/usr/bin/env bash
# The test command: installs what the tests drive (Debian packages), builds Release (and the node as Native AOT, which
# the cluster tests run: DINOMESH_TEST_NODE), runs the in-process library tests while the node publishes, then the
# node's cluster tests in one lane beside every other project in another, and ends with one line:
#   N passed, N failed, N skipped
# Extra arguments go to every `dotnet test` call (for example: --filter "Category!=Large").
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
bash scripts/install-deps.sh || { echo "test: installing Debian packages failed" >&2; }

# Each step says how long it took (docs/benchmarks.md, "The test command's time", keeps the figures).
started=$SECONDS
if ! dotnet build -c Release DinoMesh.sln -nologo -v q 2>&1 | tail -n 30; then :; fi
if [ "${PIPESTATUS[0]}" != 0 ] || ! [ -f src/DinoMesh.Node/bin/Release/net10.0/dino-node.dll ]; then
  echo "test: build failed" >&2
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

# The cluster tests run the node as users install it: the Native AOT publish of scripts/install.sh, with the same
# command, so install.sh's own publish in InstallTests later finds it up to date (seconds, not minutes). A JIT'd
# node spends seconds of this 2-core machine compiling itself at every start and every CLI call a test polls with.
# Should the publish fail, the tests run the built dino-node.dll (and InstallTests reports the failure). The libraries
# the build just compiled are not compiled again: Directory.Build.props builds them with the analyzers the publish runs
# and keeps its -p:PublishAot=true out of them (only the node is compiled for the RID, then the AOT compiler runs).
echo "build: $((SECONDS - started)) s"

passed=0 failed=0 skipped=0
results=$(mktemp -d)
# Every temp dir, mount point and data dir the tests make lands under this suite's own TMPDIR, so the check for
# mounts left behind looks only there (other programs' FUSE mounts under /tmp are not the suite's). World-writable
# and sticky like /tmp: the unprivileged FUSE tests run as nobody.
suite_tmp=$(mktemp -d /tmp/dinomesh-suite-XXXXXX)
chmod 1777 "$suite_tmp"

# One test project, its output kept: its failures with their messages, its skips, and one summary line go to
# $results/$name.out, its counts ("passed failed skipped") to $results/$name.counts. Two projects may run at once
# (the last phase has two lanes), so nothing is printed here and no shell variable is set: report_project does both.
run_project() {
  local project=$1 name log out started rc total p f s
  name=$(basename "$project" .csproj)
  log="$results/$name.log"
  out="$results/$name.out"
  started=$SECONDS
  echo "=== $name" >"$out"
  TMPDIR=$suite_tmp timeout --kill-after=30 "${DINOMESH_TEST_TIMEOUT:-1500}" \
    dotnet test "$project" -c Release --no-build -nologo --logger "console;verbosity=normal" "${test_args[@]}" >"$log" 2>&1
  rc=$?
  {
    # A project that failed keeps its whole log (a cluster test's failure message carries every node's log, which the
    # summary below cuts to a few lines): DINOMESH_TEST_LOGS, by default /tmp/dinomesh-test-logs.
    if [ "$rc" != 0 ]; then
      kept="${DINOMESH_TEST_LOGS:-/tmp/dinomesh-test-logs}"
      mkdir -p "$kept" && cp "$log" "$kept/$name.log" && echo "test: $name's whole log is kept in $kept/$name.log"
    fi
    # Failures with their messages (the console logger's normal verbosity), then the run's summary lines.
    grep -E -A12 '^\s+Failed [A-Za-z]' "$log" | grep -vE '^\s+at |^\s+[0-9:.]+ [EO] ' | head -n 200
    grep -E '^\s+Skipped [A-Za-z]' "$log" | head -n 50
    total=$(grep -E '^Total tests: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
    if [ -n "$total" ]; then
      count() { grep -E "^\s+$1: [0-9]+" "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
      p=$(count Passed) f=$(count Failed) s=$(count Skipped)
      echo "$name: $p passed, $f failed, $s skipped ($((SECONDS - started)) s)"
      if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "test: $name exited with $rc (test host crash or timeout)"; tail -n 40 "$log"; f=1
      fi
    else
      echo "test: $name produced no summary (exit $rc):"; tail -n 60 "$log"
      p=0 f=1 s=0
    fi
  } >>"$out"
  echo "$p $f $s" >"$results/$name.counts"
}

# Prints a project's kept output and adds its counts to the totals (in the main shell, once the project ended).
report_project() {
  local name p f s
  name=$(basename "$1" .csproj)
  cat "$results/$name.out"
  if read -r p f s <"$results/$name.counts" 2>/dev/null; then
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  else
    echo "test: $name left no counts"; failed=$((failed + 1))
  fi
}
test_args=("$@")

# The cluster tests run the node as users install it: the Native AOT publish of scripts/install.sh, with the same
# command, so install.sh's own publish in InstallTests later finds it up to date (seconds, not minutes). A JIT'd
# node spends seconds of this 2-core machine compiling itself at every start and every CLI call a test polls with.
# Should the publish fail, the tests run the built dino-node.dll (and InstallTests reports the failure). The libraries
# the build just compiled are not compiled again: Directory.Build.props builds them with the analyzers the publish runs
# and keeps its -p:PublishAot=true out of them (only the node is compiled for the RID, then the AOT compiler runs).
# The projects that never start a node (in-process tests of the libraries) run while it publishes: 141 s for both
# against 64 + 104 s one after the other (docs/benchmarks.md, "The test command's time").
aot_dir=src/DinoMesh.Node/bin/Release/test-aot
aot_log=$(mktemp)
rm -rf "$aot_dir"
publish_started=$SECONDS
dotnet publish src/DinoMesh.Node -c Release -r linux-x64 -p:PublishAot=true -o "$aot_dir" -nologo -v q >"$aot_log" 2>&1 &
publish_pid=$!
in_process=(Chunks Core Fuse Storage Volume Cluster)
for which in "${in_process[@]}"; do
  project="tests/DinoMesh.$which.Tests/DinoMesh.$which.Tests.csproj"
  run_project "$project"
  report_project "$project"
done
wait "$publish_pid"
publish_rc=$?
echo "Native AOT publish: $((SECONDS - publish_started)) s (beside the in-process tests)"
if [ "$publish_rc" = 0 ] && [ -x "$aot_dir/dino-node" ]; then
  export DINOMESH_TEST_NODE="$repo/$aot_dir/dino-node"
else
  echo "test: the Native AOT publish failed; the tests run dino-node.dll:" >&2
  grep -m5 -E 'error' "$aot_log" >&2
fi
rm -f "$aot_log"

export TMPDIR=$suite_tmp
# The rest in two lanes: the node's cluster tests (most of the suite's time, and mostly waiting on timeouts, fault
# detection and polls, not on the CPU) in one, every other project one after another in the other. Each lane's
# projects use their own addresses or random ports, mounts and directories under the suite's TMPDIR. Reports come
# out in the projects' order once both lanes ended (docs/benchmarks.md, "The test command's time").
cluster_lane=() other_lane=()
for project in tests/*/*.csproj load/*.Tests/*.csproj; do
  name=$(basename "$project" .csproj)
  short=${name#DinoMesh.}
  short=${short%.Tests}
  [[ " ${in_process[*]} " == *" $short "* ]] && continue   # already run beside the publish
  if [ "$short" = Node ]; then cluster_lane+=("$project"); else other_lane+=("$project"); fi
done
lanes_started=$SECONDS
( for project in "${cluster_lane[@]}"; do run_project "$project"; done ) &
cluster_pid=$!
for project in "${other_lane[@]}"; do run_project "$project"; done
wait "$cluster_pid"
for project in tests/*/*.csproj load/*.Tests/*.csproj; do
  [[ " ${cluster_lane[*]} ${other_lane[*]} " == *" $project "* ]] && report_project "$project"
done
echo "two lanes: $((SECONDS - lanes_started)) s"
# Nothing may be left mounted by the suite: a mount left under its TMPDIR is a failure.
leftover=$(bash scripts/lib/fuse-mounts-under.sh "$suite_tmp")
if [ -n "$leftover" ]; then
  echo "test: mounts left behind by the suite:"; echo "$leftover"
  failed=$((failed + 1))
else
  rm -rf "$suite_tmp"
fi
rm -rf "$results"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
