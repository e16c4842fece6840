#!/usr/bin/env bash
# Removes what scripts/install.sh installed: $PREFIX/bin/dino-node, $PREFIX/lib/dinomesh, the systemd unit (a
# running service is stopped first) and the mount helper (mount.fuse.dinomesh, dinomesh). The config file and every
# data directory are kept: they hold the node's identity and the volume's data. Same PREFIX / SYSCONFDIR / UNITDIR /
# HELPERDIR as install.sh.
set -euo pipefail
PREFIX=${PREFIX:-/usr/local}
PREFIX=${PREFIX%/}
case "$PREFIX" in
  /usr|/usr/local) SYSCONFDIR=${SYSCONFDIR:-/etc/dinomesh}; HELPERDIR=${HELPERDIR:-/sbin} ;;
  *) SYSCONFDIR=${SYSCONFDIR:-$PREFIX/etc/dinomesh}; HELPERDIR=${HELPERDIR:-$PREFIX/sbin} ;;
esac
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
bindir=$PREFIX/bin
libdir=$PREFIX/lib/dinomesh
unit=$UNITDIR/dino-node.service

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null && [ -e "$unit" ]; then
  if systemctl is-active --quiet dino-node; then echo "uninstall: stopping dino-node.service" >&2; systemctl stop dino-node; fi
  systemctl disable dino-node >/dev/null 2>&1 || true
fi
# Only our own wrapper: a dino-node installed some other way is not ours to delete.
if [ -e "$bindir/dino-node" ]; then
  if grep -q "installed by DinoMesh's scripts/install.sh" "$bindir/dino-node" 2>/dev/null; then
    rm -f "$bindir/dino-node"
  else
    echo "uninstall: $bindir/dino-node was not installed by scripts/install.sh; left in place" >&2
  fi
fi
# The mount helper likewise, only where it is ours (its first lines name it; a volume mounted through it keeps running).
for h in "$HELPERDIR/mount.fuse.dinomesh" "$PREFIX/sbin/dinomesh"; do
  [ -e "$h" ] || continue
  if head -n 3 "$h" | grep -q "the mount(8) helper for DinoMesh volumes"; then
    rm -f "$h"
  else
    echo "uninstall: $h was not installed by scripts/install.sh; left in place" >&2
  fi
done
rm -rf "$libdir" "$libdir.new" "$libdir.old"
rm -f "$unit"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then systemctl daemon-reload || true; fi
echo "uninstall: removed dino-node from $PREFIX"
[ -e "$SYSCONFDIR/dino-node.conf" ] && echo "uninstall: kept $SYSCONFDIR/dino-node.conf and the data directories it names (delete them by hand to forget this node)"
exit 0
