#!/usr/bin/env python3
"""Where a lone node's CPU per created file goes, by part of the path, in microseconds per file: reads `perf script -F
tid,ip,sym` of a `perf record -F 2999 -g` taken over exactly one round of 10,000 files (PERF= of
load/measure-small-create.py). Each sample goes to one bucket, checked in this order: another thread (GC, JIT, timers);
under the volume's commit (the state check, the log write, the lease round's other work, the mutation's encoding, the
committers around them); the FUSE reply's write (mostly the kernel: completing the request, waking the writer, the
switch); the rest of request handling; the read and busy poll of /dev/fuse.
    perf script -i FILE -F tid,ip,sym | load/small-create-profile.py [FILES]"""
import sys, collections
files = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
c, syms = collections.Counter(), []

def has(p): return any(p in s for s in syms)

def flush():
    if not syms: return
    if not has('ReadLoop'): c['other threads (GC, JIT, timers)'] += 1
    elif has('DinoFileSystem+<CommitAsync>'):
        if has('FileSystemState::Apply'): c['commit: state check (Apply)'] += 1
        elif has('SegmentFile::Write') or has('MetadataLog::AppendBatch') or has('MetadataLog::Append'): c['commit: log write'] += 1
        elif has('LeaseDriver::'): c['commit: lease round (rest of Propose)'] += 1
        elif has('MessagePackSerializer') or has('Protobuf'): c['commit: encode'] += 1
        else: c['commit: committers around it'] += 1
    elif has('FuseDevice::Write'): c['FUSE reply write (kernel)'] += 1
    elif has('FuseDispatcher::DispatchAsync'): c['request handling (no commit)'] += 1
    else: c['read/poll of /dev/fuse'] += 1

for line in sys.stdin:
    if not line.strip(): flush(); syms.clear(); continue
    if not line.startswith((' ', '\t')): syms.clear(); continue
    parts = line.strip().split(None, 1); syms.append(parts[1] if len(parts) > 1 else '')
flush()
for k in sorted(c): print(f"{k:40s} {c[k] * 1e6 / 2999 / files:6.1f}")
print(f"{'total':40s} {sum(c.values()) * 1e6 / 2999 / files:6.1f}")
