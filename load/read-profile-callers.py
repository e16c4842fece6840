#!/usr/bin/env python3
"""Callers of the copies (memmove/memcpy leaves) and the system calls under which the kernel's samples fall, for one pid
of a `perf script -F pid,ip,sym,dso` of a `perf record -g` (see read-profile.py).
    perf script -i read.data -F pid,ip,sym,dso | load/read-profile-callers.py PID"""
import collections, sys
want = sys.argv[1]
copies, calls = collections.Counter(), collections.Counter()
pid, fr = None, []
def flush():
    if pid != want or not fr:
        return
    if "memmove" in fr[0] or "memcpy" in fr[0]:
        callers = [f.split(" (")[0] for f in fr[1:] if "memmove" not in f][:2]
        copies[" <- ".join(c[:70] for c in callers)] += 1
    if fr[0].endswith("([kernel.kallsyms])"):
        sc = [f.split(" (")[0] for f in fr if f.startswith("__x64_sys") or f.startswith("__do_sys")]
        calls[sc[-1] if sc else "(no system call frame)"] += 1
for line in sys.stdin:
    if not line.strip():
        flush(); pid, fr = None, []
    elif not line.startswith("\t"):
        flush(); fr = []; pid = line.split()[0]
    else:
        p = line.strip().split(None, 1)
        if len(p) > 1: fr.append(p[1])
flush()
print("copies by caller:"); [print(f"  {n:6d} {s}") for s, n in copies.most_common(8)]
print("kernel samples by system call:"); [print(f"  {n:6d} {s}") for s, n in calls.most_common(10)]
