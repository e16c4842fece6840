#!/usr/bin/env python3
"""One dino-node alone, small-file create as the benchmark's `small-create` does it (open O_CREAT|O_EXCL, write 4 KiB,
close; 100 directories of 100 files), without the runner: 5,500 files of warm-up, then ROUNDS rounds of 10,000 files,
each reported as files/s and the node's CPU (utime + stime from /proc) per file. CPU per file says what the node spends
on a file while the machine is too busy for throughput to say much; it includes the FUSE reader's busy poll, which
grows with the gaps between requests (pass --busy-poll 0 after the label to leave it out).
    load/measure-small-create.py EXE_OR_DLL LABEL [ROUNDS] [node args...]
PERF=file  also `perf record -F 2999 -g` of the node over exactly the last round (JIT builds get a perf map, W^X off),
           for load/small-create-profile.py
PSTAT=file also `perf stat` of every system call the node makes during the last round
EPIPE=file also an EventPipe trace of the whole run with GC events at verbose level (its GCAllocationTick type names,
           one per ~100 KB allocated, can be counted with `strings -el FILE | sort | uniq -c`)
Bounded: mount wait 30 s, each round stops after 120 s, the node gets SIGTERM then SIGKILL after 20 s.
Take `flock -x /tmp/bench.lock` around it on a shared machine."""
import os, sys, time, subprocess, tempfile, shutil, signal
exe, label = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
work = tempfile.mkdtemp(prefix="small-create-", dir="/var/tmp")
mnt, data = os.path.join(work, "m"), os.path.join(work, "d")
os.makedirs(mnt); os.makedirs(data)
cmd = (["dotnet", exe] if exe.endswith(".dll") else [exe]) + ["--mount", mnt, "--data-dir", data, "--listen", "127.0.0.1:0"] + sys.argv[4:]
env = dict(os.environ)
if os.environ.get("PERF"): env.update(DOTNET_PerfMapEnabled="1", DOTNET_EnableWriteXorExecute="0")
if os.environ.get("EPIPE"):
    env.update(DOTNET_EnableEventPipe="1", DOTNET_EventPipeOutputPath=os.environ["EPIPE"], DOTNET_EventPipeConfig="Microsoft-Windows-DotNETRuntime:0x1:5")
log = open(os.path.join(work, "node.log"), "w")
p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)

def mounted():
    with open("/proc/mounts") as f: return any(l.split()[1] == mnt for l in f)

t0 = time.time()
while not mounted():
    if time.time() - t0 > 30 or p.poll() is not None: print("no mount"); sys.exit(1)
    time.sleep(0.1)
tick = os.sysconf("SC_CLK_TCK")

def cpu():
    with open(f"/proc/{p.pid}/stat") as f: s = f.read().rsplit(")", 1)[1].split()
    return (int(s[11]) + int(s[12])) / tick

buf = b"x" * 4096

def create(root, n):
    side = int(n ** 0.5)
    for d in range(side): os.mkdir(os.path.join(root, f"d{d}"))
    t, c = time.perf_counter(), cpu()
    for i in range(n):
        fd = os.open(os.path.join(root, f"d{i % side}", f"f{i}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.write(fd, buf); os.close(fd)
        if time.perf_counter() - t > 120: n = i + 1; break
    return n / (time.perf_counter() - t), (cpu() - c) * 1000 / n

try:
    for name, n in (("warm", 3000), ("warm2", 2500)):
        os.mkdir(os.path.join(mnt, name)); create(os.path.join(mnt, name), n); time.sleep(1)
    res = []
    for r in range(rounds):
        root = os.path.join(mnt, f"r{r}"); os.mkdir(root)
        last = r == rounds - 1
        if last and os.environ.get("PSTAT"):
            ps = subprocess.Popen(["perf", "stat", "-e", "syscalls:sys_enter_*", "-p", str(p.pid), "-o", os.environ["PSTAT"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        if last and os.environ.get("PERF"):
            pr = subprocess.Popen(["perf", "record", "-F", "2999", "-g", "-p", str(p.pid), "-o", os.environ["PERF"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        res.append(create(root, 10000))
        if last and os.environ.get("PERF"): pr.send_signal(signal.SIGINT); pr.wait(30)
        if last and os.environ.get("PSTAT"): ps.send_signal(signal.SIGINT); ps.wait(30)
    load = open("/proc/loadavg").read().split()[0]
    print(f"{label} load={load} files/s " + " ".join(f"{a:.0f}" for a, _ in res) + " | cpu ms/file " + " ".join(f"{b:.3f}" for _, b in res))
finally:
    p.send_signal(signal.SIGTERM)
    try: p.wait(20)
    except subprocess.TimeoutExpired: p.kill(); p.wait()
    subprocess.run(["fusermount3", "-u", "-z", mnt], stderr=subprocess.DEVNULL)
    shutil.rmtree(work, ignore_errors=True)
