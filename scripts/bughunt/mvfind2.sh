#!/usr/bin/env bash
# like mvfind.sh but records each partial find's count and errors; $1 = mover root, $2 = finder root
A=$1; B=$2; ROUNDS=${3:-60}
rm -rf $A/mv; mkdir -p $A/mv/p1 $A/mv/p2; cp -a /tmp/bughunt/native/mvsrc/big $A/mv/p1/
want=$(find /tmp/bughunt/native/mvsrc/big | wc -l)
sleep 0.5
(for r in $(seq 1 $ROUNDS); do mv $A/mv/p1/big $A/mv/p2/big; sleep 0.1; mv $A/mv/p2/big $A/mv/p1/big; sleep 0.1; done) &
mvp=$!; finds=0; partial=0; end=$((SECONDS+120))
while kill -0 $mvp 2>/dev/null && [ $SECONDS -lt $end ]; do
  for p in p1 p2; do n=$(find $B/mv/$p/big 2>/tmp/bughunt/out/f2.err | wc -l); finds=$((finds+1)); if [ $n -ne 0 ] && [ $n -ne $want ]; then partial=$((partial+1)); echo "partial: $n of $want; errors: $(head -c 300 /tmp/bughunt/out/f2.err | tr '\n' '|')"; fi; done
done
wait $mvp; echo "finds $finds partial $partial"
