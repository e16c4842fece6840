#!/usr/bin/env python3
"""One line per run of load/measure-one-writer.sh: files/s, p50 / p99, node CPU per file (ms) and context switches per
file of each node (h = lease holder, v = voter), commits per file, the holder's hold-back policies over the window
(notices: on or off at the end, switches, carried, alone; deferred appends: on or off, switches, merged, alone, quick
voters demoted) and perf's context switches and page faults per file.
    load/one-writer-summary.py OUT/NAME..."""
import json
import os
import sys


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def samples(d, k):
    rows = {}
    with open(f"{d}/nodes.{k}") as f:
        for line in f:
            name, utime, stime, minflt, cs = line.split()
            rows[name] = (int(utime), int(stime), int(minflt), int(cs))
    return rows


for d in sys.argv[1:]:
    meta = open(f"{d}/meta").read().splitlines()
    load = meta[0].split(":")[1].split()[0]
    try:
        row = meta[1].split()
        files, rate, p50, p99 = int(row[5].replace(",", "")), int(row[8].replace(",", "")), row[10], row[12]
    except (IndexError, ValueError):
        print(os.path.basename(d), "no result")
        continue
    s0, s1 = samples(d, 0), samples(d, 1)
    cells, holder = [], ""
    total = 0.0
    for name in sorted(s1):
        if name not in s0:
            continue
        st0, st1 = read_json(f"{d}/status.{name}.0"), read_json(f"{d}/status.{name}.1")
        role = (st1 or {}).get("role", "?")
        cpu = ((s1[name][0] + s1[name][1]) - (s0[name][0] + s0[name][1])) * 10 / files
        total += cpu
        cs = (s1[name][3] - s0[name][3]) / files
        cells.append(f"{name}:{role[:1]} {cpu:.2f} ms {cs:.1f} cs")
        if role == "holder" and st0 and st1:
            holder = f"commits/file {(st1['commitVersion'] - st0['commitVersion']) / files:.2f}"
            h0, h1 = st0.get("holdBack"), st1.get("holdBack")
            if h0 and h1:
                dl = {k: h1[k] - h0[k] for k in h1 if not isinstance(h1[k], bool)}
                holder += (f" | notices {'on' if h1['holdingNotices'] else 'OFF'} sw {dl['noticePolicyFlips']}"
                           f" carried {dl['noticesCarried']} alone {dl['noticesSentAlone']}"
                           + (f" (awaited {dl['noticesAloneAwaited']} deferred {dl['noticesAloneDeferred']})" if 'noticesAloneAwaited' in dl else "")
                           +
                           f" | defer {'on' if h1['deferringAppends'] else 'OFF'} sw {dl['deferralPolicyFlips']}"
                           f" merged {dl['deferralsMerged']} alone {dl['deferralsAlone']} demoted {dl['quickVotersDemoted']}")
    perf = {}
    if os.path.exists(f"{d}/perfstat"):
        for line in open(f"{d}/perfstat"):
            f = line.split()
            if len(f) >= 2 and f[1] in ("context-switches", "page-faults"):
                perf[f[1]] = float(f[0].replace(",", "")) / files
    extra = " | perf " + " ".join(f"{k} {v:.1f}" for k, v in perf.items()) + " /file" if perf else ""
    print(f"{os.path.basename(d)} load {load} {rate}/s p50 {p50} p99 {p99} | node CPU {total:.2f} ms/file | "
          + " | ".join(cells) + " | " + holder + extra)
