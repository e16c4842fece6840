#!/usr/bin/env bash
# usage: cluster.sh up|down [binary]
set -u; EXTRA=${EXTRA:-}
BIN=${2:-/tmp/aot-base/dino-node}
R=/tmp/bughunt/c
P=17946
case $1 in
up)
  rm -rf $R; mkdir -p $R
  for i in 1 2 3; do mkdir -p $R/m$i; done
  $BIN --mount $R/m1 --data-dir $R/d1 --listen 127.0.0.71:$P --membership-profile local --replicas 2 $EXTRA > $R/log1 2>&1 &
  echo $! > $R/pid1
  for t in $(seq 1 100); do grep -q DINOMESH_TOKEN= $R/log1 && break; sleep 0.2; done
  export DINOMESH_TOKEN=$(grep -o 'DINOMESH_TOKEN=dmt1\S*' $R/log1 | head -1 | cut -d= -f2)
  for i in 2 3; do
    $BIN --join 127.0.0.71:$P --mount $R/m$i --data-dir $R/d$i --listen 127.0.0.7$i:$P --membership-profile local --replicas 2 $EXTRA > $R/log$i 2>&1 &
    echo $! > $R/pid$i
  done
  for i in 1 2 3; do for t in $(seq 1 300); do mountpoint -q $R/m$i && [ -S $R/d$i/control.sock ] && break; sleep 0.2; done; done
  mount | grep $R
  ;;
down)
  for i in 1 2 3; do [ -f $R/pid$i ] && kill -9 $(cat $R/pid$i) 2>/dev/null; done
  sleep 0.5
  for i in 1 2 3; do fusermount3 -u -z $R/m$i 2>/dev/null; done
  ;;
status)
  for i in 1 2 3; do $BIN statehash --data-dir $R/d$i; $BIN status --json --data-dir $R/d$i | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("appliedVersion"), d.get("role"))'; done
  ;;
esac
