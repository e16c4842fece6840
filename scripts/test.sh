#!/usr/bin/env bash
# The test command: installs what the tests drive (Debian packages), builds Release (and the node as Native AOT, which
# the cluster tests run: DINOMESH_TEST_NODE), runs every test project one
# after another (FUSE mounts and clusters need the machine's two cores to themselves), and ends with one line:
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
started=$SECONDS
aot_dir=src/DinoMesh.Node/bin/Release/test-aot
rm -rf "$aot_dir"
if dotnet publish src/DinoMesh.Node -c Release -r linux-x64 -p:PublishAot=true -o "$aot_dir" -nologo -v q >"${TMPDIR:-/tmp}/dinomesh-test-aot.log" 2>&1 \
    && [ -x "$aot_dir/dino-node" ]; then
  export DINOMESH_TEST_NODE="$repo/$aot_dir/dino-node"
else
  echo "test: the Native AOT publish failed; the tests run dino-node.dll:" >&2
  grep -m5 -E 'error' "${TMPDIR:-/tmp}/dinomesh-test-aot.log" >&2
fi
rm -f "${TMPDIR:-/tmp}/dinomesh-test-aot.log"
echo "Native AOT publish: $((SECONDS - started)) s"

passed=0 failed=0 skipped=0
results=$(mktemp -d)
# Every temp dir, mount point and data dir the tests make lands under this suite's own TMPDIR, so the check for
# mounts left behind looks only there (other programs' FUSE mounts under /tmp are not the suite's). World-writable
# and sticky like /tmp: the unprivileged FUSE tests run as nobody.
suite_tmp=$(mktemp -d /tmp/dinomesh-suite-XXXXXX)
chmod 1777 "$suite_tmp"
export TMPDIR=$suite_tmp
for project in tests/*/*.csproj load/*.Tests/*.csproj; do
  name=$(basename "$project" .csproj)
  echo "=== $name"
  log="$results/$name.log"
  started=$SECONDS
  timeout --kill-after=30 "${DINOMESH_TEST_TIMEOUT:-1500}" \
    dotnet test "$project" -c Release --no-build -nologo --logger "console;verbosity=normal" "$@" >"$log" 2>&1
  rc=$?
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
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
      echo "test: $name exited with $rc (test host crash or timeout)"; tail -n 40 "$log"; failed=$((failed + 1))
    fi
  else
    echo "test: $name produced no summary (exit $rc):"; tail -n 60 "$log"
    failed=$((failed + 1))
  fi
done
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
