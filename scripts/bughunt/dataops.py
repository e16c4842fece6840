#!/usr/bin/env python3
"""Seeded random data ops (pwrite, O_APPEND, fallocate modes, ftruncate, copy_file_range, mmap writes, sendfile)
on a few files through the three mounts, each op on a node the seed picks, the same op on a native directory; after
each op the file is read on another node (no wait: close-to-open) and must equal the native file."""
import os, sys, random, hashlib, mmap, time, errno
seed, count = int(sys.argv[1]), int(sys.argv[2])
mounts = sys.argv[3].split(',')
native = sys.argv[4]
sub = f"data{seed}"
rnd = random.Random(seed)
FILES = 4
MAXOFF = 3 << 20
def p(root, i): return os.path.join(root, sub, f"f{i}")
for root in [mounts[0], native]:
    os.makedirs(os.path.join(root, sub), exist_ok=True)
    for i in range(FILES):
        with open(p(root, i), 'wb') as f: f.write(rnd.randbytes(rnd.randrange(0, 200000)) if root == native else b'')
# same initial contents: copy the native ones onto the volume
for i in range(FILES):
    with open(p(native, i), 'rb') as s, open(p(mounts[0], i), 'wb') as d: d.write(s.read())
def digest(path):
    with open(path, 'rb') as f: b = f.read()
    return len(b), hashlib.sha256(b).hexdigest()[:16], b
FL_KEEP, FL_PUNCH, FL_ZERO = 1, 2, 0x10
POOL = os.environ.get('POOL') == '1'
def gen():
    if POOL:
        k = rnd.choice(['block']*5 + ['trunc', 'trunc0', 'copy', 'sleep', 'falloc'])
        i = rnd.randrange(FILES)
        if k == 'block': return ('pwrite', i, rnd.randrange(4) << 20, 1 << 20, rnd.randrange(3))
        if k == 'trunc0': return ('trunc', i, 0, 0, 0)
        if k == 'trunc': return ('trunc', i, rnd.randrange(5) << 20, 0, 0)
        if k == 'copy': return ('copy', i, rnd.randrange(4) << 20, 1 << 20, (rnd.randrange(FILES), rnd.randrange(4) << 20))
        if k == 'sleep': return ('sleep', i, 0, 0, rnd.choice([0.5, 1.5, 2.5]))
        if k == 'falloc': return ('falloc', i, rnd.randrange(4) << 20, 1 << 20, FL_PUNCH | FL_KEEP)
    k = rnd.choice(['pwrite']*4 + ['append', 'falloc', 'trunc', 'copy', 'mmap', 'sendfile', 'pwrite_small'])
    i = rnd.randrange(FILES)
    if k == 'pwrite': return (k, i, rnd.randrange(MAXOFF), rnd.randrange(1, 400000), rnd.randrange(1 << 30))
    if k == 'pwrite_small': return ('pwrite', i, rnd.randrange(MAXOFF), rnd.randrange(1, 5000), rnd.randrange(1 << 30))
    if k == 'append': return (k, i, 0, rnd.randrange(1, 100000), rnd.randrange(1 << 30))
    if k == 'falloc': return (k, i, rnd.randrange(MAXOFF), rnd.randrange(1, 600000), rnd.choice([0, FL_KEEP, FL_PUNCH | FL_KEEP, FL_ZERO, FL_ZERO | FL_KEEP]))
    if k == 'trunc': return (k, i, rnd.randrange(MAXOFF), 0, 0)
    if k == 'copy': return (k, i, rnd.randrange(MAXOFF), rnd.randrange(1, 1500000), (rnd.randrange(FILES), rnd.randrange(MAXOFF)))
    if k == 'mmap': return (k, i, rnd.randrange(MAXOFF), rnd.randrange(1, 200000), rnd.randrange(1 << 30))
    if k == 'sendfile': return (k, i, rnd.randrange(MAXOFF), rnd.randrange(1, 1500000), (rnd.randrange(FILES), rnd.randrange(MAXOFF)))
def run(root, op):
    k, i, off, n, extra = op
    try:
        if k == 'sleep':
            if root != native: time.sleep(extra)
            return ('ok',)
        if k == 'pwrite':
            fd = os.open(p(root, i), os.O_WRONLY)
            try: os.pwrite(fd, random.Random(extra).randbytes(n), off)
            finally: os.close(fd)
        elif k == 'append':
            fd = os.open(p(root, i), os.O_WRONLY | os.O_APPEND)
            try: os.write(fd, random.Random(extra).randbytes(n))
            finally: os.close(fd)
        elif k == 'falloc':
            fd = os.open(p(root, i), os.O_RDWR)
            try:
                import ctypes
                libc = ctypes.CDLL(None, use_errno=True)
                r = libc.fallocate(fd, ctypes.c_int(extra), ctypes.c_long(off), ctypes.c_long(n))
                if r != 0: return ('errno', ctypes.get_errno())
            finally: os.close(fd)
        elif k == 'trunc':
            os.truncate(p(root, i), off)
        elif k in ('copy', 'sendfile'):
            j, dst = extra
            s = os.open(p(root, i), os.O_RDONLY); d = os.open(p(root, j), os.O_WRONLY)
            try:
                if k == 'copy':
                    done = 0
                    while done < n:
                        c = os.copy_file_range(s, d, n - done, off + done, dst + done)
                        if c == 0: break
                        done += c
                    return ('copied', done)
                else:
                    os.lseek(d, dst, 0); done = 0
                    while done < n:
                        c = os.sendfile(d, s, off + done, n - done)
                        if c == 0: break
                        done += c
                    return ('sent', done)
            finally: os.close(s); os.close(d)
        elif k == 'mmap':
            fd = os.open(p(root, i), os.O_RDWR)
            try:
                size = os.fstat(fd).st_size
                if size == 0: return ('empty',)
                off = off % size; n = min(n, size - off)
                page = off - off % mmap.PAGESIZE
                m = mmap.mmap(fd, n + (off - page), offset=page)
                m[off - page:off - page + n] = random.Random(extra).randbytes(n)
                m.flush(); m.close()
            finally: os.close(fd)
        return ('ok',)
    except OSError as e:
        return ('errno', e.errno)
mism = 0
t0 = time.time()
for x in range(count):
    op = gen()
    node = rnd.randrange(len(mounts)); reader = rnd.randrange(len(mounts))
    got = run(mounts[node], op); want = run(native, op)
    line = f"#{x} node{node+1} {op[0]} f{op[1]} off={op[2]} n={op[3]} x={op[4]} => {got} / native {want}"
    if got != want:
        print("ANSWER MISMATCH", line, flush=True); mism += 1
    i = op[1]
    checks = {i} | ({op[4][0]} if op[0] in ('copy', 'sendfile') else set())
    for f in checks:
        w = digest(p(native, f)); g = digest(p(mounts[reader], f))
        if g[:2] != w[:2]:
            time.sleep(2); g2 = digest(p(mounts[reader], f))
            diffs = [k for k in range(min(len(g[2]), len(w[2]))) if g[2][k] != w[2][k]]
            print(f"CONTENT MISMATCH after {line}: f{f} read on node{reader+1}: {g[:2]} native {w[:2]}; 2 s later {g2[:2]}; "
                  f"first differing byte {diffs[0] if diffs else None} of {len(diffs)}", flush=True)
            mism += 1
            if mism > 3: sys.exit(1)
if os.environ.get('FINAL') == '1':
    open('/proc/sys/vm/drop_caches', 'w').write('3')
    for f in range(FILES):
        w = digest(p(native, f))
        for m in mounts:
            try: g = digest(p(m, f))
            except OSError as e: g = (str(e), '')
            if g[:2] != w[:2]: print(f"FINAL MISMATCH f{f} on {m}: {g[:2]} native {w[:2]}", flush=True); mism += 1
print(f"seed {seed}: {count} ops, {mism} mismatches, {time.time()-t0:.1f} s", flush=True)
sys.exit(1 if mism else 0)
