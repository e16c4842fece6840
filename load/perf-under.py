#!/usr/bin/env python3
# perf-under.py PERF_DATA PID:THREAD REGEX [DEPTH]: of the samples of one thread (PID:THREAD, or - for all), the
# share whose stack holds a frame matching REGEX, and which frames DEPTH levels below the outermost such frame they are
# in (DEPTH 0: the share alone). Inclusive shares of a .NET call tree from `perf record -g` (load/profile-many-writers.sh).
import subprocess, sys, collections, re, signal
signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head
data, comm, rx = sys.argv[1], sys.argv[2], re.compile(sys.argv[3]); depth = int(sys.argv[4]) if len(sys.argv) > 4 else 1
out = subprocess.run(['perf', 'script', '-i', data, '-F', 'pid,comm,tid,ip,sym'], capture_output=True, text=True).stdout
cnt = collections.Counter(); total = 0; hit = 0; cur = None; syms = []
def short(s):
    s = re.sub(r'^(DinoMesh_\w+?_DinoMesh_\w+?_|S_P_CoreLib_|System_\w+?_System_)', '', s)
    return s[:110]
def flush():
    global total, hit
    if cur is None or (comm != '-' and cur != comm): return
    total += 1
    idx = None
    for i in range(len(syms) - 1, -1, -1):
        if rx.search(syms[i]): idx = i; break
    if idx is None: return
    hit += 1
    path = syms[max(0, idx - depth):idx][::-1]
    key = ' > '.join(short(s) for s in path) if path else '(self)'
    cnt[key] += 1
for line in out.splitlines():
    if not line.strip():
        flush(); cur = None; syms = []; continue
    if not line.startswith((' ', '\t')):
        m = re.match(r'^(.*?)\s+(\d+)/(\d+)\s*$', line.strip()); cur = (m.group(2) + ':' + m.group(1)) if m else line.split()[0]; syms = []
    else:
        parts = line.strip().split(None, 1)
        if len(parts) == 2: syms.append(re.sub(r'\+0x[0-9a-f]+$', '', parts[1]))
flush()
print(f'{comm}: {total} samples, {100*hit/max(total,1):.2f}% under {sys.argv[3]}')
for k, c in cnt.most_common(40): print(f'{100*c/total:6.2f}%  {k}')
