#!/usr/bin/env python3
"""Where a remote cold read's CPU goes, per process: reads `perf script` of a `perf record -g` (measure-chunk-path.sh
PERF_FILE=N, with or without PERF_ALL=1) and puts each sample of the given pids in one bucket, by its leaf and the
frames above it. libcrypto has no symbols here: its SHA-NI and AES-NI code is told apart by address (the pages that
hold `sha256rnds2` and `vaesenc`), found in the library's disassembly.
    perf script -i read.data -F pid,tid,ip,sym,dso 2>/dev/null | load/read-profile.py PID[=NAME]...
"""
import sys, re, collections

def libcrypto_marks(path="/lib/x86_64-linux-gnu/libcrypto.so.3"):
    # addresses of SHA-NI and AES-NI round instructions in the library's disassembly; a sample within 0x200 bytes of
    # one is in that code
    import subprocess, bisect
    sha, aes = [], []
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "sha256rnds2" in line or "sha256msg" in line:
            sha.append(int(line.split(":")[0], 16))
        elif "vaesenc" in line or "vaesdec" in line or "aesenc" in line or "aesdec" in line:
            aes.append(int(line.split(":")[0], 16))
    def near(xs, off):
        i = bisect.bisect_left(xs, off)
        return any(0 <= j < len(xs) and abs(xs[j] - off) < 0x200 for j in (i - 1, i))
    return lambda off: "sha" if near(sha, off) else "aes" if near(aes, off) else "x"

# (bucket, test on the joined stack, leaf first); the first that matches wins
RULES = [
    ("sha256 (SHA-NI)", lambda leaf, st: leaf.startswith("libcrypto:sha")),
    ("aes-gcm", lambda leaf, st: leaf.startswith("libcrypto:aes")),
    ("libcrypto/libssl other", lambda leaf, st: leaf.startswith("libcrypto") or leaf.startswith("libssl")),
    ("memmove: SslStream decrypted copy", lambda leaf, st: "memmove" in leaf and "CopyDecryptedData" in st),
    ("memmove: RecentChunks.TryCopy", lambda leaf, st: "memmove" in leaf and "RecentChunks__TryCopy" in st),
    ("memmove: other", lambda leaf, st: "memmove" in leaf or "memcpy" in leaf),
    ("xxh3 (at-rest checksum)", lambda leaf, st: "XxHash" in leaf),
    ("kernel: FUSE (/dev/fuse copies, requests)", lambda leaf, st: leaf.startswith("k:") and ("fuse_" in st)),
    ("kernel: page fault", lambda leaf, st: leaf.startswith("k:") and "exc_page_fault" in st),
    ("kernel: ext4/iomap/block (chunk files)", lambda leaf, st: leaf.startswith("k:") and re.search(r"ext4_|iomap|blk_|bio_|submit_bio|do_renameat|filemap_|vfs_write|pread|ksys_pwrite|do_filp_open|__x64_sys_openat|fsetxattr|getxattr|statx", st)),
    ("kernel: TCP recv", lambda leaf, st: leaf.startswith("k:") and re.search(r"tcp_recvmsg|sock_recvmsg|__sys_recvfrom", st)),
    ("kernel: TCP send (incl. loopback rx softirq)", lambda leaf, st: leaf.startswith("k:") and re.search(r"tcp_sendmsg|sock_sendmsg|__sys_sendto|tcp_v4_rcv|net_rx_action|__dev_queue_xmit", st)),
    ("kernel: epoll/futex/scheduler", lambda leaf, st: leaf.startswith("k:") and re.search(r"epoll|futex|schedule|finish_task_switch|sched_yield|try_to_wake_up|nanosleep", st)),
    ("kernel: other", lambda leaf, st: leaf.startswith("k:")),
    ("GC", lambda leaf, st: re.search(r"WKS::|SVR::|gc_heap|GCHeap|RhpGcAlloc|RhpNewArray|RhpNewFast", st) is not None),
    ("managed: SslStream/TLS glue", lambda leaf, st: re.search(r"System_Net_Security|Interop_Ssl|Interop_OpenSsl|SafeSsl", leaf) is not None),
    ("managed/runtime: other", lambda leaf, st: True),
]

def main():
    names = {}
    for a in sys.argv[1:]:
        pid, _, name = a.partition("=")
        names[pid] = name or pid
    kind_of = libcrypto_marks()
    counts = collections.defaultdict(collections.Counter)
    totals = collections.Counter()
    pid = None; frames = []
    def flush():
        if pid is None or pid not in names or not frames:
            return
        leaf = frames[0]
        st = ";".join(frames)
        for name, test in RULES:
            if test(leaf, st):
                counts[pid][name] += 1
                break
        totals[pid] += 1
    for line in sys.stdin:
        if not line.strip():
            flush(); pid = None; frames = []
            continue
        if not line.startswith("\t"):
            flush(); frames = []
            pid = line.split()[0]
            continue
        parts = line.strip().split(None, 2)
        if len(parts) < 2:
            continue
        ip = int(parts[0], 16)
        rest = parts[1] if len(parts) == 2 else parts[1] + " " + parts[2]
        m = re.match(r"(.*) \((.*)\)$", rest)
        sym, dso = (m.group(1), m.group(2)) if m else (rest, "")
        if "libcrypto" in dso:
            frames.append(f"libcrypto:{kind_of(ip)}:{sym}")  # perf prints a dso-relative ip here
        elif "libssl" in dso:
            frames.append("libssl:" + sym)
        elif "kernel" in dso:
            frames.append("k:" + sym)
        else:
            frames.append(sym)
    flush()
    for p in names:
        t = totals[p]
        print(f"== {names[p]} (pid {p}): {t} samples")
        for name, c in counts[p].most_common():
            print(f"  {name:48s} {c:6d} {100.0 * c / max(t, 1):5.1f} %")

if __name__ == "__main__":
    main()
