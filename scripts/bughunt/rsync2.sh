#!/usr/bin/env bash
# rsync --delete from two native trees onto one tree, through two nodes at once; then one rsync alone must leave
# exactly its source on all three nodes
R=/tmp/bughunt/c; ROUNDS=${1:-3}
mk() { rm -rf $1; mkdir -p $1; for d in $(seq 1 8); do mkdir -p $1/d$d/sub; for f in $(seq 1 40); do head -c $(( (f*d*977 + $2) % 70000 )) /dev/urandom > $1/d$d/f$f; done; ln -s f1 $1/d$d/link; echo $2 > $1/d$d/sub/tag$2; done; }
mk /tmp/bughunt/native/srcA 1; mk /tmp/bughunt/native/srcB 2
for r in $(seq 1 $ROUNDS); do
  rm -rf $R/m1/dst 2>/dev/null
  rsync -a --delete /tmp/bughunt/native/srcB/ $R/m3/dst/ 2>/dev/null   # a start tree made on node 3
  (rsync -a --delete /tmp/bughunt/native/srcA/ $R/m1/dst/ > /tmp/bughunt/out/rsA.log 2>&1; echo "A rc=$?" >> /tmp/bughunt/out/rsA.log) &
  (rsync -a --delete /tmp/bughunt/native/srcB/ $R/m2/dst/ > /tmp/bughunt/out/rsB.log 2>&1; echo "B rc=$?" >> /tmp/bughunt/out/rsB.log) &
  wait
  echo "round $r: $(tail -1 /tmp/bughunt/out/rsA.log) ($(wc -l < /tmp/bughunt/out/rsA.log) lines) $(tail -1 /tmp/bughunt/out/rsB.log) ($(wc -l < /tmp/bughunt/out/rsB.log) lines)"
  rsync -a --delete /tmp/bughunt/native/srcA/ $R/m2/dst/ > /tmp/bughunt/out/rsfinal.log 2>&1; echo "final rsync rc=$?"
  for i in 1 2 3; do n=$(rsync -a --delete --checksum --dry-run -i /tmp/bughunt/native/srcA/ $R/m$i/dst/ | wc -l); echo "  node $i: $n differences"; done
done
