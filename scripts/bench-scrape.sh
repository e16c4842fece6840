#!/bin/bash
# Scrape latency and CPU of a lone node's /metrics (docs/benchmarks.md, "Metrics: one status per scrape").
# usage (as root): scripts/bench-scrape.sh NODE_BINARY TAG IP [FILES=5000] [SCRAPES=30]
# Runs the node on IP (mount and data under ${BENCH_ROOT:-/tmp/bench-scrape}/TAG), creates FILES files once, scrapes
# 5 times to warm up, then SCRAPES times 0.3 s apart: prints the median scrape (curl's time_total) and the node's CPU
# ticks (utime + stime, 1/100 s) over the scrapes and over as long idle.
set -u
node=$1 tag=$2 ip=$3 files=${4:-5000} scrapes=${5:-30}
root=${BENCH_ROOT:-/tmp/bench-scrape}/$tag
mkdir -p "$root/mnt"
"$node" --mount "$root/mnt" --data-dir "$root/data" --advertise "$ip:7946" --metrics "$ip:9464" --membership-profile local --log-level Warning > "$root/node.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do mountpoint -q "$root/mnt" && break; sleep 0.1; done
mountpoint -q "$root/mnt" || { echo "no mount (see $root/node.log)"; kill "$pid" 2>/dev/null; exit 1; }
if [ ! -e "$root/mnt/d" ]; then
  mkdir "$root/mnt/d"
  for i in $(seq 1 "$files"); do echo x > "$root/mnt/d/f$i"; done
fi
for _ in $(seq 1 5); do curl -s -o /dev/null "http://$ip:9464/metrics"; sleep 0.3; done
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
lat=()
cpu0=$(ticks)
for _ in $(seq 1 "$scrapes"); do
  lat+=("$(curl -s -o /dev/null -w '%{time_total}' "http://$ip:9464/metrics")")
  sleep 0.3
done
cpu1=$(ticks)
idle0=$(ticks); sleep "$(echo "$scrapes*0.3" | bc)"; idle1=$(ticks)
med=$(printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
inodes=$(curl -s "http://$ip:9464/metrics" | awk '/^dinomesh_inodes/ {print $2}')
echo "$tag median_scrape_ms=$(echo "$med*1000" | bc) cpu_ticks_scrapes=$((cpu1-cpu0)) cpu_ticks_idle_same_time=$((idle1-idle0)) scrapes=$scrapes inodes=$inodes"
kill -TERM "$pid"; wait "$pid"
