#!/usr/bin/env bash
# usage: two.sh TAG -- args: the same stressor on node 1 and node 2 at once, disjoint subdirectories
TAG=$1; shift; [ "$1" = "--" ] && shift
R=/tmp/bughunt/c; OUT=/tmp/bughunt/out
for i in 1 2; do mkdir -p $R/m$i/$TAG-n$i; done
s=$(date +%s.%N)
for i in 1 2; do (timeout -k 5 90 stress-ng --temp-path $R/m$i/$TAG-n$i --metrics-brief --verify "$@" > $OUT/$TAG.two$i 2>&1; echo "rc$i=$?" > $OUT/$TAG.two$i.rc) & done
wait
e=$(date +%s.%N)
echo "$TAG two nodes: $(cat $OUT/$TAG.two1.rc $OUT/$TAG.two2.rc | tr '\n' ' ') $(echo "$e - $s" | bc)s failLines=$(cat $OUT/$TAG.two1 $OUT/$TAG.two2 | grep -ciE 'fail|error|corrupt|mismatch|unexpected') left=$(find $R/m1/$TAG-n1 $R/m1/$TAG-n2 -mindepth 1 | wc -l)"
