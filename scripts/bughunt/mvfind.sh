#!/usr/bin/env bash
# node 1 moves a big directory back and forth between two parents while node 2 runs find in it; afterwards every
# node must list the same complete tree
R=/tmp/bughunt/c; ROUNDS=${1:-20}
rm -rf $R/m1/mv; mkdir -p $R/m1/mv/p1 $R/m1/mv/p2
mkdir -p /tmp/bughunt/native/mvsrc; rm -rf /tmp/bughunt/native/mvsrc/*
for d in $(seq 1 20); do mkdir -p /tmp/bughunt/native/mvsrc/big/d$d/e; for f in $(seq 1 50); do echo $d.$f > /tmp/bughunt/native/mvsrc/big/d$d/f$f; done; echo x > /tmp/bughunt/native/mvsrc/big/d$d/e/x; done
cp -a /tmp/bughunt/native/mvsrc/big $R/m1/mv/p1/
want=$(find /tmp/bughunt/native/mvsrc/big | wc -l)
(for r in $(seq 1 $ROUNDS); do mv $R/m1/mv/p1/big $R/m1/mv/p2/big || echo "mv1 failed $r"; sleep 0.1; mv $R/m1/mv/p2/big $R/m1/mv/p1/big || echo "mv2 failed $r"; sleep 0.1; done) > /tmp/bughunt/out/mv.log 2>&1 &
mvp=$!
finds=0; errs=0; partial=0
end=$((SECONDS+120))
while kill -0 $mvp 2>/dev/null && [ $SECONDS -lt $end ]; do
  for p in p1 p2; do n=$(find $R/m2/mv/$p/big 2>>/tmp/bughunt/out/find.err | wc -l); finds=$((finds+1)); [ $n -ne 0 ] && [ $n -ne $want ] && partial=$((partial+1)); done
done
wait $mvp
echo "mv log: $(cat /tmp/bughunt/out/mv.log | wc -l) lines; finds on node 2: $finds, partial counts (expected while moving): $partial, find errors: $(wc -l < /tmp/bughunt/out/find.err)"
sort /tmp/bughunt/out/find.err | sed 's/[0-9]//g' | sort | uniq -c | head -5; rm -f /tmp/bughunt/out/find.err
for i in 1 2 3; do echo "node $i: p1/big $(find $R/m$i/mv/p1/big | wc -l) of $want, p2: $(ls $R/m$i/mv/p2 | wc -l) entries, contents: $(cd $R/m$i/mv/p1/big && cat $(find . -type f | sort) | sha256sum | cut -c1-12)"; done
echo "native contents: $(cd /tmp/bughunt/native/mvsrc/big && cat $(find . -type f | sort) | sha256sum | cut -c1-12)"
