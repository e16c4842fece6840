#!/usr/bin/env python3
"""Per-hop times of the one-writer commit chain from `perf sched timehist -w` output (issue 9's critical path).
    perf sched record -a -o F -- sleep 0.3      # during load/measure-one-writer.sh's window
    perf sched timehist -i F -w | load/commit-hops.py
A commit round is a serial chain of wake-ups: the writer wakes the holder's FUSE reader (t0); the reader wakes a
follower's `dino-lean-in` when it sends the append (t1); that thread wakes the holder's `dino-lean-out` when its answer
arrives (t2); that thread wakes the writer when the FUSE reply is written (t3). Each hop is the time from one wake-up to
the next: `holder send` t1-t0, `follower answer` t2-t1, `holder reply` t3-t2, `round` t3-t0 (scheduling delays
included: they are part of the path); and `follower after`, from the follower's answer until its thread sleeps (or
is switched out): its work after the answer, off the path unless it delays the next round. Requests the reader answers itself (no follower woken first) are not rounds.
Where a follower hands its after-work to its `dino-afterwork` thread, `follower apply` is from its answer until that
thread (woken by the follower's reader right after the answer) sleeps or is switched out.
Prints the count and the median, p25 and p75 of each hop, in microseconds; then, per kind of thread on the chain, the
median scheduling delay (`sch delay`) of its switch-ins and how many there were."""
import re
import statistics
import sys

LINE = re.compile(r"^\s*(\d+\.\d+)\s+\[\d+\]\s+(.+?)\[(\d+)/\d+\]\s+awakened:\s+(.+?)\[(\d+)/\d+\]")
# A task switched out: its time slice ended at this time.
SWITCH = re.compile(r"^\s*(\d+\.\d+)\s+\[\d+\]\s+(.+?)\[(\d+)/\d+\]\s+[\d.]+\s+([\d.]+)\s+[\d.]+\s*$")
# The threads of the chain whose scheduling delays are summed up, by the start of their names.
KINDS = ("fuse-reader", "dino-lean-in", "dino-lean-out", "dino-afterwork")


def quartiles(values):
    if len(values) < 4:
        return (statistics.median(values),) * 3 if values else (0, 0, 0)
    q = statistics.quantiles(values, n=4)
    return q[1], q[0], q[2]


def main():
    events = []   # (time, waker name, waker tid, wakee name, wakee tid); a switch-out is (time, name, tid, None, None)
    delays = {k: [] for k in KINDS}   # sch delay (ms in the trace) of each switch-out's time slice, by kind of thread
    for line in sys.stdin:
        m = LINE.match(line)
        if m:
            events.append((float(m[1]), m[2].strip(), m[3], m[4].strip(), m[5]))
        elif s := SWITCH.match(line):
            events.append((float(s[1]), s[2].strip(), s[3], None, None))
            kind = next((k for k in KINDS if s[2].strip().startswith(k)), None)
            if kind:
                delays[kind].append(float(s[4]) * 1000)
    # The writer: whoever wakes a FUSE reader most often.
    wakers = {}
    for t, wn, wt, en, et in events:
        if en is not None and en.startswith("fuse-reader"):
            wakers[wt] = wakers.get(wt, 0) + 1
    if not wakers:
        print("no FUSE reader woken: no one-writer run in this trace")
        return
    writer = max(wakers, key=wakers.get)
    hops = {"holder send": [], "follower answer": [], "holder reply": [], "round": [], "follower after": [], "follower apply": []}
    i = 0
    while i < len(events):
        t0, wn, wt, en, reader = events[i]
        i += 1
        if en is None or wt != writer or not en.startswith("fuse-reader"):
            continue
        # The reader's next wake-up: a follower's lean-in (a commit) or the writer (answered by itself).
        j = next((k for k in range(i, len(events)) if events[k][2] == reader and events[k][3] is not None), None)
        if j is None or not events[j][3].startswith("dino-lean-in"):
            continue
        t1, follower = events[j][0], events[j][4]
        k = next((k for k in range(j + 1, len(events)) if events[k][2] == follower and (events[k][3] or "").startswith("dino-lean-out")), None)
        if k is None:
            continue
        t2, out = events[k][0], events[k][4]
        # The follower's thread goes on after its answer (the apply, since the answer went first) until it sleeps.
        off = next((o for o in range(k + 1, len(events)) if events[o][2] == follower and events[o][3] is None), None)
        m = next((m for m in range(k + 1, len(events)) if events[m][2] == out and events[m][4] == writer), None)
        if m is None or events[m][0] - t0 > 0.01:
            continue
        t3 = events[m][0]
        for name, v in (("holder send", t1 - t0), ("follower answer", t2 - t1), ("holder reply", t3 - t2), ("round", t3 - t0)):
            hops[name].append(v * 1e6)
        if off is not None and events[off][0] - t2 < 0.005:
            hops["follower after"].append((events[off][0] - t2) * 1e6)
        # The follower's after-work thread, when the reader woke one before it slept.
        stop = off if off is not None else len(events)
        w = next((w for w in range(k + 1, stop) if events[w][2] == follower and (events[w][3] or "").startswith("dino-afterwork")), None)
        if w is not None:
            worker = events[w][4]
            end = next((e for e in range(w + 1, len(events)) if events[e][2] == worker and events[e][3] is None), None)
            if end is not None and events[end][0] - t2 < 0.005:
                hops["follower apply"].append((events[end][0] - t2) * 1e6)
        i = m + 1
    for name, values in hops.items():
        med, p25, p75 = quartiles(values)
        print(f"{name:16} n={len(values):4}  median {med:6.0f} us  (p25 {p25:5.0f}, p75 {p75:5.0f})")
    print("sch delay: " + ", ".join(f"{k} {statistics.median(v):.0f} us (n={len(v)})" for k, v in delays.items() if v))


main()
