#!/usr/bin/env bash
# stress-ng on node 1's mount while node $1 (a non-holder) is killed with -9 and restarted; then convergence
R=/tmp/bughunt/c; V=$1; S=${S:-1}; shift
mkdir -p $R/m$S/kill
(timeout -k 5 90 stress-ng --temp-path $R/m$S/kill --metrics-brief --verify "$@" > /tmp/bughunt/out/kill.log 2>&1; echo "stress rc=$?" >> /tmp/bughunt/out/kill.log) &
sp=$!
sleep 4
kill -9 $(cat $R/pid$V); echo "killed node $V at $(date -u +%T)"
sleep 6
fusermount3 -u -z $R/m$V
/tmp/aot-base/dino-node --mount $R/m$V --data-dir $R/d$V --listen 127.0.0.7$V:17946 --membership-profile local --replicas 2 $EXTRA >> $R/log$V 2>&1 &
echo $! > $R/pid$V
wait $sp
grep -E "fail|rc=" /tmp/bughunt/out/kill.log
for t in $(seq 1 100); do mountpoint -q $R/m$V && [ -S $R/d$V/control.sock ] && break; sleep 0.2; done
