#!/usr/bin/env bash
# waits (bounded 20 s) until the three nodes' statehash match, then compares their trees
R=/tmp/bughunt/c; BIN=${BIN:-/tmp/aot-base/dino-node}
for t in $(seq 1 40); do
  h=$(for i in 1 2 3; do timeout 10 $BIN statehash --data-dir $R/d$i; done)
  n=$(echo "$h" | sort -u | wc -l)
  [ "$n" = 1 ] && break; sleep 0.5
done
echo "statehash: $(echo "$h" | sort -u | tr '\n' ' ')"
for i in 1 2 3; do (cd $R/m$i && timeout 60 find . -printf '%y %m %n %s %p %l\n' | sort > /tmp/bughunt/tree$i; timeout 60 find . -type f -print0 | sort -z | xargs -0 -r sha256sum > /tmp/bughunt/sum$i); done
for i in 2 3; do cmp -s /tmp/bughunt/tree1 /tmp/bughunt/tree$i || { echo "TREE DIFF 1 vs $i"; diff /tmp/bughunt/tree1 /tmp/bughunt/tree$i | head; }; cmp -s /tmp/bughunt/sum1 /tmp/bughunt/sum$i || { echo "SUM DIFF 1 vs $i"; diff /tmp/bughunt/sum1 /tmp/bughunt/sum$i | head; }; done
echo "entries: $(wc -l < /tmp/bughunt/tree1)"
