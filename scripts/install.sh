#!/usr/bin/env bash
# Installs dino-node as a command: a Release publish of the node under $PREFIX/lib/dinomesh, $PREFIX/bin/dino-node on
# the PATH, the systemd unit, the mount(8) helper (/sbin/mount.fuse.dinomesh, and $PREFIX/sbin/dinomesh for fuse3's
# mount.fuse), and (only if absent) the config file. Run it again to upgrade; scripts/uninstall.sh takes it away again.
#
#   bash scripts/install.sh                    # as root: /usr/local/bin/dino-node, /etc/dinomesh/dino-node.conf
#   PREFIX=$HOME/.local bash scripts/install.sh
#
# PUBLISH     auto (default: Native AOT, else ReadyToRun), aot, or r2r
# PREFIX      default /usr/local
# SYSCONFDIR  default /etc/dinomesh ($PREFIX/etc/dinomesh when PREFIX is not /usr or /usr/local)
# UNITDIR     default $PREFIX/lib/systemd/system (a directory systemd reads for /usr and /usr/local)
# HELPERDIR   where mount.fuse.dinomesh goes: default /sbin, the one place mount(8) looks ($PREFIX/sbin when PREFIX is
#             not /usr or /usr/local)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
PREFIX=${PREFIX%/}
case "$PREFIX" in
  /usr|/usr/local) SYSCONFDIR=${SYSCONFDIR:-/etc/dinomesh}; HELPERDIR=${HELPERDIR:-/sbin} ;;
  *) SYSCONFDIR=${SYSCONFDIR:-$PREFIX/etc/dinomesh}; HELPERDIR=${HELPERDIR:-$PREFIX/sbin} ;;
esac
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
bindir=$PREFIX/bin
sbindir=$PREFIX/sbin
libdir=$PREFIX/lib/dinomesh

command -v dotnet >/dev/null || { echo "install: the .NET 10 SDK is needed (dotnet is not on the PATH)" >&2; exit 1; }
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

stage=$(mktemp -d "${TMPDIR:-/tmp}/dinomesh-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# Native AOT first: one native executable, no JIT, about half the idle memory of a JIT'd node (docs/benchmarks.md,
# issue 13). Should that publish fail (a toolchain without the ILCompiler package, a platform it does not support),
# ReadyToRun as before: the node's code compiled ahead of time, run by the shared .NET runtime. PUBLISH=r2r skips
# the AOT attempt; PUBLISH=aot fails instead of falling back.
PUBLISH=${PUBLISH:-auto}
r2r() {
  echo "install: publishing dino-node (Release, ReadyToRun) ..." >&2
  rm -rf "$stage/lib"
  dotnet publish "$repo/src/DinoMesh.Node" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -o "$stage/lib" -nologo -v q >"$stage/publish.log" 2>&1 || { tail -n 30 "$stage/publish.log" >&2; echo "install: publish failed" >&2; exit 1; }
}
if [ "$PUBLISH" = r2r ]; then
  r2r
else
  echo "install: publishing dino-node (Release, Native AOT; a minute or two) ..." >&2
  if dotnet publish "$repo/src/DinoMesh.Node" -c Release -r linux-x64 -p:PublishAot=true \
      -o "$stage/lib" -nologo -v q >"$stage/publish-aot.log" 2>&1; then
    rm -f "$stage"/lib/*.pdb   # symbols of the IL assemblies, which the native executable does not contain
  elif [ "$PUBLISH" = aot ]; then
    tail -n 30 "$stage/publish-aot.log" >&2; echo "install: Native AOT publish failed" >&2; exit 1
  else
    echo "install: Native AOT publish failed ($(grep -m1 -E 'error' "$stage/publish-aot.log" | cut -c1-160)); falling back to ReadyToRun" >&2
    r2r
  fi
fi
cp "$repo/scripts/systemd/unmount-stale" "$stage/lib/unmount-stale"
cp "$repo/README.md" "$stage/lib/README.md"
chmod 0755 "$stage/lib/unmount-stale"

# Swap the whole directory in at once: a running node keeps its open files, the next start gets the new build.
mkdir -p "$PREFIX/lib" "$bindir" "$sbindir" "$HELPERDIR" "$UNITDIR" "$SYSCONFDIR"
rm -rf "$libdir.new"
cp -a "$stage/lib" "$libdir.new"
rm -rf "$libdir.old"
[ -d "$libdir" ] && mv "$libdir" "$libdir.old"
mv "$libdir.new" "$libdir"
rm -rf "$libdir.old"

# The command: a wrapper that finds the runtime this build was made with, wherever the SDK lives (a ReadyToRun build
# needs it; the Native AOT executable ignores DOTNET_ROOT).
cat >"$bindir/dino-node.new" <<WRAPPER
#!/bin/sh
# dino-node, installed by DinoMesh's scripts/install.sh ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)); remove with scripts/uninstall.sh.
export DOTNET_ROOT="\${DOTNET_ROOT:-$dotnet_root}"
exec "$libdir/dino-node" "\$@"
WRAPPER
chmod 0755 "$bindir/dino-node.new"
mv "$bindir/dino-node.new" "$bindir/dino-node"

# The mount(8) helper, as mount.fuse.dinomesh where mount(8) looks for type fuse.dinomesh, and as dinomesh on root's
# PATH, the name fuse3's mount.fuse runs for it. It is told where this dino-node is: mount(8) runs it with no PATH.
helper() {
  sed -e "s|^installed_node=\"\"|installed_node=\"$bindir/dino-node\"|" "$repo/scripts/mount.fuse.dinomesh" >"$1.new"
  chmod 0755 "$1.new"
  mv "$1.new" "$1"
}
helper "$HELPERDIR/mount.fuse.dinomesh"
helper "$sbindir/dinomesh"

fill() { sed -e "s|@BINDIR@|$bindir|g" -e "s|@LIBDIR@|$libdir|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" "$1"; }
fill "$repo/scripts/systemd/dino-node.service.in" >"$UNITDIR/dino-node.service"
chmod 0644 "$UNITDIR/dino-node.service"
# The config is the user's once it exists: an upgrade never overwrites it.
if [ ! -e "$SYSCONFDIR/dino-node.conf" ]; then
  fill "$repo/scripts/systemd/dino-node.conf" >"$SYSCONFDIR/dino-node.conf"
  chmod 0644 "$SYSCONFDIR/dino-node.conf"
  config_note="created"
else
  config_note="kept as it was"
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then systemctl daemon-reload || true; fi

cat <<DONE
install: dino-node is installed
  command  $bindir/dino-node -> $libdir
  unit     $UNITDIR/dino-node.service
  mount    $HELPERDIR/mount.fuse.dinomesh, $sbindir/dinomesh (mount -t fuse.dinomesh, /etc/fstab)
  config   $SYSCONFDIR/dino-node.conf ($config_note)
Run it in the foreground:   dino-node --mount /mnt/dino
Or as a service:            edit $SYSCONFDIR/dino-node.conf, mkdir -p /mnt/dino, then systemctl enable --now dino-node
Remove it again:            bash $repo/scripts/uninstall.sh
DONE
case ":$PATH:" in *":$bindir:"*) ;; *) echo "install: note: $bindir is not on your PATH" >&2 ;; esac
