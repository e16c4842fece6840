#!/usr/bin/env bash
# usage: stress.sh TAG -- stress-ng args...   (runs on a native dir, then on node 1's mount; prints rc, time, failures)
TAG=$1; shift; [ "$1" = "--" ] && shift
R=/tmp/bughunt/c
OUT=/tmp/bughunt/out; mkdir -p $OUT
for where in native dino; do
  if [ $where = native ]; then T=/tmp/bughunt/native/$TAG; else T=$R/m1/$TAG; fi
  mkdir -p $T
  s=$(date +%s.%N)
  timeout -k 5 90 stress-ng --temp-path $T --metrics-brief --verify "$@" > $OUT/$TAG.$where 2>&1
  rc=$?
  e=$(date +%s.%N)
  fails=$(grep -ciE "fail|error|corrupt|mismatch|unexpected" $OUT/$TAG.$where)
  bogo=$(grep -E "stress-ng: (info|metrc).*\] +[a-z-]+ +[0-9]" $OUT/$TAG.$where | tail -1 | awk '{print $5}')
  left=$(find $T -mindepth 1 2>/dev/null | wc -l)
  printf "%-14s %-6s rc=%-3s %6.1fs bogo=%-8s failLines=%-3s left=%s\n" $TAG $where $rc $(echo "$e - $s" | bc) "$bogo" $fails $left
done
