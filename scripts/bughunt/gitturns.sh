#!/usr/bin/env bash
# two nodes commit into one repository in turns (N rounds), then fsck on the third
R=/tmp/bughunt/c; N=${1:-30}
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
rm -rf $R/m1/repo; git init -q $R/m1/repo
git config --global --add safe.directory '*'
fails=0
for r in $(seq 1 $N); do
  i=$(( r % 2 + 1 ))
  d=$R/m$i/repo
  # wait for the other node's commit to be visible here: close-to-open of HEAD's ref
  [ -n "$NOWAIT" ] || for t in $(seq 1 100); do [ "$(git -C $d rev-list --count HEAD 2>/dev/null || echo 0)" = "$((r-1))" ] && break; waits=$((waits+1)); sleep 0.05; done
  echo "round $r on node $i" >> $d/file$((r % 5)).txt
  seq 1 $((r*100)) > $d/big.txt
  git -C $d add -A >/dev/null 2>&1 || { echo "add failed round $r node $i"; fails=$((fails+1)); }
  git -C $d commit -q -m "r$r" || { echo "commit failed round $r node $i"; fails=$((fails+1)); }
done
for i in 1 2 3; do echo "node $i: $(git -C $R/m$i/repo rev-list --count HEAD) commits, fsck: $(git -C $R/m$i/repo fsck --strict 2>&1 | wc -l) lines, status: $(git -C $R/m$i/repo status --porcelain | wc -l) changed"; done
echo fails=$fails waits=$waits
