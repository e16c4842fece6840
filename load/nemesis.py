#!/usr/bin/env python3
"""A seeded fault-injection run (Jepsen-style) against real dino-node processes, then a strict check of what was
acknowledged.

N nodes (3, or 5), each in its own network namespace behind one bridge (as tests/DinoMesh.Node.Tests' NetworkLab),
each with its own FUSE mount. One client per node writes through that node's mount while a nemesis, seeded, injects
one fault every 1-3 s: a node cut off (nftables drop at the bridge, both ways), the holder cut off, a split with the
holder on either side, one link cut, kill -9 of a node (holder or not) restarted a few seconds later, SIGSTOP of a
node for 1-5 s, or a heal. After the last fault: heal, stop the clients, wait (bounded) until every node is alive
everywhere and reports one state hash at one applied version, then check every mount against the clients' history:

- an acknowledged create (open O_EXCL + write + fsync + close, each returned 0) is there with its exact content, or
  absent when an acknowledged unlink removed it, or under its new name after an acknowledged rename;
- an operation that failed (ETIMEDOUT, EIO, ENOTCONN...) is indeterminate: either outcome, but exactly one of them;
- every acknowledged append line ("<node> <n>\\n", O_APPEND + fsync + close) is in the shared file exactly once, no
  line is there twice (acknowledged or not), no line is torn or unknown;
- every mount shows the same names with the same contents; the state hashes are equal.

A violation prints the seed and the history (client operations and faults) around it. The fault schedule is a pure
function of the seed; the interleaving with the clients is not (real processes, real time), so a failing seed is
a strong hint, not an exact replay: run it a few times.

Usage (root, /dev/fuse, iproute2, nsenter, nftables):
  load/nemesis.py --node /tmp/aot-x/dino-node --seed 7
  load/nemesis.py --node /tmp/aot-x/dino-node --seeds 1-20 [--nodes 5] [--faults 30] [--out load/results/nemesis]
  load/nemesis.py --node /tmp/aot-x/dino-node --scenario restart-cut [--stop-holder 14.5] [--down 4] [--cut 20]
    (no clients: kill -9 and restart one node, cut its link to another, and measure the longest time a connected
    majority had no followed holder, polling `dino-node status --json` on every node; see run_restart_cut)
Exit status: 0 when every seed passed, 1 when one found a violation, 2 when the run could not be set up.
"""
from __future__ import annotations

import argparse
import errno
import faulthandler
import hashlib
import json
import multiprocessing
import os
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field

PORT = 7946
SHARED = "shared.log"
TOKEN = re.compile(r"DINOMESH_TOKEN=(dmt1\.\S+)")
LINE = re.compile(rb"^(\d+) (\d+)$")


class SetupError(Exception):
    """The run could not be set up (no namespaces, a node that did not start): not a verdict on the product."""


def run(args: list[str], timeout: float = 15, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise SetupError(f"{' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def wait_for(predicate, limit: float, every: float = 0.2):
    """Polls PREDICATE until it returns a true value or LIMIT seconds pass; returns that value or None."""
    end = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            return None
        time.sleep(every)


def fuse_mounted(path: str) -> bool:
    with open("/proc/mounts") as f:
        return any(len(p := line.split()) > 2 and p[1] == path and p[2].startswith("fuse") for line in f)


# ---------------------------------------------------------------------------------------------------------------
# The network: a bridge namespace and one namespace per node; a fault is a set of nftables drop rules at the bridge.

class Network:
    def __init__(self, count: int):
        suffix = uuid.uuid4().hex[:6]
        self.bridge = f"ns-nm-br-{suffix}"
        self.nodes = {i: f"ns-nm-{i}-{suffix}" for i in range(1, count + 1)}
        self._made: list[str] = []
        self._add(self.bridge)
        self._ip(self.bridge, "link", "add", "br0", "type", "bridge")
        self._ip(self.bridge, "link", "set", "br0", "up")
        self._nft("add table bridge cut")
        self._nft("add chain bridge cut forward { type filter hook forward priority 0 ; policy accept ; }")
        for i, ns in self.nodes.items():
            self._add(ns)
            self._ip(self.bridge, "link", "add", f"v{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            self._ip(self.bridge, "link", "set", f"v{i}", "master", "br0")
            self._ip(self.bridge, "link", "set", f"v{i}", "up")
            self._ip(ns, "addr", "add", f"{self.address(i)}/24", "dev", "eth0")
            self._ip(ns, "link", "set", "eth0", "up")
            self._ip(ns, "link", "set", "lo", "up")

    @staticmethod
    def address(i: int) -> str:
        return f"10.97.0.{i}"

    def launcher(self, i: int) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.nodes[i]}", "--"]

    def split(self, side: set[int], others: set[int]) -> None:
        """Drops every frame between a node of SIDE and a node of OTHERS (each side still talks within itself)."""
        rules = [f"add rule bridge cut forward iifname \"v{a}\" oifname \"v{b}\" drop" for a in side for b in others]
        rules += [f"add rule bridge cut forward iifname \"v{b}\" oifname \"v{a}\" drop" for a in side for b in others]
        self._nft(" ; ".join(rules))

    def heal(self) -> None:
        self._nft("flush chain bridge cut forward")

    def _add(self, ns: str) -> None:
        self._made.append(ns)
        run(["ip", "netns", "add", ns])

    @staticmethod
    def _ip(ns: str, *args: str) -> None:
        run(["ip", "-n", ns, *args])

    def _nft(self, commands: str) -> None:
        run(["nsenter", f"--net=/run/netns/{self.bridge}", "--", "nft", commands])

    def close(self) -> None:
        for ns in reversed(self._made):
            run(["ip", "netns", "del", ns], check=False)
        self._made.clear()


# ---------------------------------------------------------------------------------------------------------------
# The nodes: real dino-node processes; a client reaches a node's mount only through a directory descriptor opened
# while that node was mounted, so a write can never land in the empty directory under a dead node's mount point.

class Node:
    def __init__(self, index: int, exe: list[str], work: str, net: Network, extra: list[str]):
        self.index, self.exe, self.net, self.extra = index, exe, net, extra
        self.dir = os.path.join(work, f"n{index}")
        self.mount = os.path.join(self.dir, "mnt")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "log")
        os.makedirs(self.mount)
        os.makedirs(self.data)
        self.proc: subprocess.Popen | None = None
        self.stopped = False
        # Raised at every mount, read by this node's client process (which opens the mount itself: the nemesis
        # process holds no file of any mount, see Client).
        self.generation = multiprocessing.get_context("fork").Value("i", 0)

    @property
    def name(self) -> str:
        return f"n{self.index}"

    @property
    def up(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def launch(self, join: str | None = None, token: str | None = None) -> None:
        args = [*self.net.launcher(self.index), "setpriv", "--pdeathsig", "KILL", "--", *self.exe,
                "--mount", self.mount, "--data-dir", self.data, "--listen", f"{self.net.address(self.index)}:{PORT}",
                "--membership-profile", "local", *self.extra]
        env = dict(os.environ)
        if join:
            args += ["--join", join]
            env["DINOMESH_TOKEN"] = token or ""
        with open(self.log, "a") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} launch\n")
            log.flush()
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.stopped = False

    def wait_up(self, limit: float = 60) -> None:
        ok = wait_for(lambda: not self.up or (fuse_mounted(self.mount) and os.path.exists(os.path.join(self.data, "control.sock"))), limit, 0.1)
        if not ok or not self.up:
            raise SetupError(f"{self.name} did not come up within {limit:.0f} s:\n{self.tail()}")
        with self.generation.get_lock():
            self.generation.value += 1

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(30)
        self.stopped = False
        subprocess.run(["umount", "-l", self.mount], capture_output=True)

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.stopped = True

    def resume(self) -> None:
        if self.up:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.stopped = False

    def cli(self, command: str, timeout: float = 10):
        """`dino-node status|peers --json` or `statehash` (as a dict) through the control socket (a path: reachable
        from the host's namespace); None when the node does not answer."""
        as_json = [] if command == "statehash" else ["--json"]
        try:
            r = subprocess.run([*self.exe, command, *as_json, "--data-dir", self.data], capture_output=True, text=True, timeout=timeout)
            if r.returncode != 0 or not r.stdout.strip():
                return None
            if command == "statehash":
                m = re.match(r"(\S+) at version (\d+)", r.stdout.strip().splitlines()[-1])
                return {"stateHash": m.group(1), "version": int(m.group(2))} if m else None
            return json.loads(r.stdout)
        except (subprocess.TimeoutExpired, json.JSONDecodeError):
            return None

    def token(self) -> str:
        found = wait_for(lambda: TOKEN.search(open(self.log).read()), 30)
        if not found:
            raise SetupError(f"{self.name} printed no join token:\n{self.tail()}")
        return found.group(1)

    def tail(self, lines: int = 15) -> str:
        try:
            return "".join(open(self.log, errors="replace").readlines()[-lines:])
        except OSError:
            return "(no log)"


# ---------------------------------------------------------------------------------------------------------------
# The history: every client operation and every fault, with its time; the clients' model of what must be there.

@dataclass
class Event:
    t: float
    who: str
    what: str


@dataclass
class FileRecord:
    """One file a client created. OUTCOMES: the sets of its names that may be present after the run (an acknowledged
    history leaves one; an indeterminate operation two). A file with an indeterminate operation is left alone."""
    node: int
    n: int
    size: int
    names: list[str]
    outcomes: list[frozenset[str]]
    settled: bool = True

    @property
    def content(self) -> bytes:
        return content_of(self.node, self.n, self.size)


@dataclass
class ClientLog:
    files: list[FileRecord] = field(default_factory=list)
    appends: dict[tuple[int, int], str] = field(default_factory=dict)  # (node, n) -> "ack" | "indeterminate"
    anomalies: list[str] = field(default_factory=list)
    ops: int = 0
    failed: int = 0


class History:
    def __init__(self, echo: bool = False):
        self.echo = echo
        self.start = time.monotonic()
        self.events: list[Event] = []
        self.lock = threading.Lock()

    def add(self, who: str, what: str, at: float | None = None) -> None:
        t = (at if at is not None else time.monotonic()) - self.start
        with self.lock:
            self.events.append(Event(t, who, what))
        if self.echo and not (who.startswith("client") and what.endswith(" ok")):
            print(f"{t:8.3f} {who:8} {what}", file=sys.stderr, flush=True)

    def drain(self, queue, stop: threading.Event) -> None:
        """Moves the clients' events (CLOCK_MONOTONIC is one clock for every process) into the history."""
        while not (stop.is_set() and queue.empty()):
            try:
                at, who, what = queue.get(timeout=0.2)
            except Exception:
                continue
            self.add(who, what, at)
        with self.lock:
            self.events.sort(key=lambda e: e.t)


class EventSink:
    """The client process's side of the history: events go to the nemesis process through a queue."""

    def __init__(self, queue):
        self.queue = queue

    def add(self, who: str, what: str) -> None:
        self.queue.put((time.monotonic(), who, what))


def content_of(node: int, n: int, size: int) -> bytes:
    unit = f"{node}.{n}.".encode()
    return (unit * (size // len(unit) + 1))[:size]


def err_name(e: OSError) -> str:
    return errno.errorcode.get(e.errno, str(e.errno))


# ---------------------------------------------------------------------------------------------------------------
# A client: one per node, through that node's mount only.

class Client(multiprocessing.get_context("fork").Process):
    """A process of its own, not a thread of the nemesis: the kernel sends FUSE a FLUSH for every close of a file
    descriptor, and a fork + exec closes every descriptor the forking process holds. With the clients as threads, a
    CLI call of the nemesis while a client held a file open on a SIGSTOPped node blocked in that FLUSH, so the nemesis
    never sent the SIGCONT (seen: seed 1 hung for minutes). The nemesis process now opens no file of any mount while
    the clients run."""

    def __init__(self, node: Node, seed: int, budget: int, stop, events, results, turn):
        super().__init__(name=f"client-{node.index}", daemon=True)
        self.node, self.budget, self.stop, self.turn, self.results = node, budget, stop, turn, results
        self.history = EventSink(events)
        self.rng = random.Random(f"{seed}/client/{node.index}")
        self.log = ClientLog()
        self.who = f"client{node.index}"
        self.current = "idle"
        self._fd: int | None = None
        self._generation = 0

    def run(self) -> None:
        try:
            self._loop()
        finally:
            self.results.put(self.log)

    def _loop(self) -> None:
        creates = appends = 0
        while not self.stop.is_set() and self.log.ops < self.budget:
            fd, generation = self._root()
            if fd is None:
                self._wait_new_generation(generation)
                continue
            roll = self.rng.random()
            settled = [f for f in self.log.files if f.settled and len(f.outcomes[0]) == 1]
            try:
                if roll < 0.45 or (roll >= 0.8 and not settled):
                    creates += 1
                    self._create(fd, creates)
                elif roll < 0.8:
                    appends += 1
                    if self.turn is None:
                        self._append_together(fd, appends)
                    else:
                        with self.turn:
                            self._append(fd, appends)
                elif roll < 0.9:
                    self._rename(fd, self.rng.choice(settled))
                else:
                    self._unlink(fd, self.rng.choice(settled))
            except OSError as e:
                # The descriptor of a mount that went away (kill -9): wait for the node's next life.
                if e.errno in (errno.ENOTCONN, errno.ECONNABORTED, errno.EBADF):
                    self._wait_new_generation(generation)
            self.log.ops += 1
            time.sleep(self.rng.uniform(0.005, 0.03))
        self.current = "done"

    def _root(self):
        """A descriptor of the node's mount of the current generation, or (None, generation). The directory opened
        must be the FUSE mount (another device than its parent), never the empty directory under a dead node's mount
        point: a create there would succeed on the local disk."""
        generation = self.node.generation.value
        if self._fd is not None and generation == self._generation:
            return self._fd, generation
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        try:
            fd = os.open(self.node.mount, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return None, generation
        if os.fstat(fd).st_dev == os.stat(os.path.dirname(self.node.mount)).st_dev:
            os.close(fd)
            return None, generation
        self._fd, self._generation = fd, generation
        return fd, generation

    def _wait_new_generation(self, generation: int) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._generation = generation
        end = time.monotonic() + 1.0
        while time.monotonic() < end and self.node.generation.value == generation and not self.stop.is_set():
            time.sleep(0.05)

    def _step(self, what: str, action):
        """Runs one system call; records it; returns (ok, result, error name)."""
        self.current = what
        try:
            result = action()
            return True, result, None
        except OSError as e:
            self.history.add(self.who, f"{what} -> {err_name(e)}")
            self.log.failed += 1
            if e.errno in (errno.ENOTCONN, errno.ECONNABORTED):
                raise
            return False, None, err_name(e)

    def _create(self, root: int, n: int) -> None:
        name = f"c{self.node.index}-{n}"
        size = self.rng.choice([0, 1, 100, 4096, 5000, 65536, 200_000, self.rng.randrange(1, 300_000)])
        data = content_of(self.node.index, n, size)
        record = FileRecord(self.node.index, n, size, [name], [frozenset([name])])
        self.log.files.append(record)
        try:
            ok, fd, why = self._step(f"create {name}", lambda: os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644, dir_fd=root))
            if not ok:
                if why == "EEXIST":
                    self.log.anomalies.append(f"create {name}: EEXIST on a name never used before")
                self._indeterminate(record, [frozenset(), frozenset([name])])
                return
            all_ok = True
            try:
                view = memoryview(data)
                while view and all_ok:
                    ok, written, _ = self._step(f"write {name}", lambda: os.write(fd, view[:65536]))
                    all_ok = ok
                    if ok:
                        view = view[written:]
                if all_ok:
                    all_ok, _, _ = self._step(f"fsync {name}", lambda: os.fsync(fd))
            finally:
                closed, _, _ = self._step(f"close {name}", lambda: os.close(fd))
            if all_ok and closed:
                self.history.add(self.who, f"create {name} ({size} B) ok")
            else:
                self._indeterminate(record, [frozenset(), frozenset([name])])
        except OSError:
            self._indeterminate(record, [frozenset(), frozenset([name])])
            raise

    def _indeterminate(self, record: FileRecord, outcomes: list[frozenset[str]]) -> None:
        record.outcomes = outcomes
        record.settled = False

    def _append(self, root: int, n: int) -> None:
        key = (self.node.index, n)
        line = f"{self.node.index} {n}\n".encode()
        self.log.appends[key] = "indeterminate"
        ok, fd, _ = self._step(f"append {key}", lambda: os.open(SHARED, os.O_WRONLY | os.O_APPEND, dir_fd=root))
        if not ok:
            return
        all_ok = True
        try:
            all_ok, written, _ = self._step(f"append-write {key}", lambda: os.write(fd, line))
            if all_ok and written != len(line):
                self.log.anomalies.append(f"append {key}: short write {written} of {len(line)}")
                all_ok = False
            if all_ok:
                all_ok, _, _ = self._step(f"append-fsync {key}", lambda: os.fsync(fd))
        finally:
            closed, _, _ = self._step(f"append-close {key}", lambda: os.close(fd))
        if all_ok and closed:
            self.log.appends[key] = "ack"
            self.history.add(self.who, f"append {key} ok")

    def _append_together(self, root: int, n: int) -> None:
        """--appends concurrent: the append starts on the next 50 ms tick of the wall clock, which every client shares,
        so clients that append in the same tick open the file, see one size and write at that end together, as two
        loggers on two machines do (without this, a few ms of jitter between the clients made such overlaps rare)."""
        tick = 0.05
        time.sleep(tick - time.time() % tick)
        self._append(root, n)

    def _rename(self, root: int, record: FileRecord) -> None:
        old = next(iter(record.outcomes[0]))
        new = f"{record.names[0]}.r{len(record.names)}"
        record.names.append(new)
        try:
            ok, _, _ = self._step(f"rename {old} {new}", lambda: os.rename(old, new, src_dir_fd=root, dst_dir_fd=root))
        except OSError:
            self._indeterminate(record, [frozenset([old]), frozenset([new])])
            raise
        if ok:
            record.outcomes = [frozenset([new])]
            self.history.add(self.who, f"rename {old} {new} ok")
        else:
            self._indeterminate(record, [frozenset([old]), frozenset([new])])

    def _unlink(self, root: int, record: FileRecord) -> None:
        name = next(iter(record.outcomes[0]))
        try:
            ok, _, _ = self._step(f"unlink {name}", lambda: os.unlink(name, dir_fd=root))
        except OSError:
            self._indeterminate(record, [frozenset([name]), frozenset()])
            raise
        if ok:
            record.outcomes = [frozenset()]
            self.history.add(self.who, f"unlink {name} ok")
        else:
            self._indeterminate(record, [frozenset([name]), frozenset()])


# ---------------------------------------------------------------------------------------------------------------
# The nemesis: a seeded schedule of faults; at most one node dead at a time; a network fault replaces the last.

class Nemesis:
    KINDS = ["isolate-one", "isolate-holder", "split-holder-minority", "split-holder-majority", "cut-link",
             "kill-one", "kill-holder", "pause-one", "pause-holder", "heal"]

    def __init__(self, seed: int, nodes: list[Node], net: Network, history: History):
        self.rng = random.Random(f"{seed}/nemesis")
        self.nodes, self.net, self.history = nodes, net, history
        self.pending: list[tuple[float, str, Node]] = []  # (when, "restart" | "resume", node)
        self.counts: dict[str, int] = {}
        self.problems: list[str] = []

    def holder(self) -> Node | None:
        best = None
        for n in self.nodes:
            if n.up and not n.stopped:
                s = n.cli("status", timeout=3)
                if s and s.get("role") == "holder" and (best is None or s.get("term", 0) > best[0]):
                    best = (s.get("term", 0), n)
        return best[1] if best else None

    def run(self, faults: int, stop_early: threading.Event) -> None:
        for _ in range(faults):
            if stop_early.is_set():
                break
            self._due()
            kind = self.rng.choice(self.KINDS)
            self._apply(kind)
            self._sleep(self.rng.uniform(1.0, 3.0))
        self.heal()

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._due()
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))

    def _due(self) -> None:
        now = time.monotonic()
        for item in [p for p in self.pending if p[0] <= now]:
            self.pending.remove(item)
            _, what, node = item
            if what == "resume":
                node.resume()
                self.history.add("nemesis", f"SIGCONT {node.name}")
            else:
                self._restart(node)

    def _restart(self, node: Node) -> None:
        node.launch()
        self.history.add("nemesis", f"restart {node.name}")
        try:
            node.wait_up(60)
            self.history.add("nemesis", f"{node.name} mounted again")
        except SetupError as e:
            self.problems.append(f"{node.name} did not come back after kill -9: {e}")

    def _apply(self, kind: str) -> None:
        rng = self.rng
        names = {n.index for n in self.nodes}
        # The schedule draws every random value before it looks at the cluster, so the seed fixes the draws.
        pick, pause_for, down_for = rng.choice(sorted(names)), rng.uniform(1.0, 5.0), rng.uniform(2.0, 6.0)
        minority = len(self.nodes) // 2
        holder = self.holder() if "holder" in kind else None
        if "holder" in kind and holder is None:
            self.history.add("nemesis", f"{kind}: no holder known now; skipped")
            return
        target = holder.index if holder else pick
        others = sorted(names - {target})
        if kind in ("isolate-one", "isolate-holder"):
            self.net.heal()
            self.net.split({target}, names - {target})
            what = f"cut off n{target}"
        elif kind in ("split-holder-minority", "split-holder-majority"):
            rng2 = random.Random(f"{pick}/{kind}")
            if kind == "split-holder-minority":
                side = {target, *rng2.sample(others, minority - 1)}
            else:
                side = set(rng2.sample(others, minority))
            self.net.heal()
            self.net.split(side, names - side)
            what = f"split {sorted(side)} | {sorted(names - side)} (holder n{target})"
        elif kind == "cut-link":
            other = others[pick % len(others)]
            self.net.heal()
            self.net.split({target}, {other})
            what = f"cut the link n{target} - n{other}"
        elif kind in ("kill-one", "kill-holder"):
            node = self.nodes[target - 1]
            if any(not n.up for n in self.nodes) or any(p[1] == "restart" for p in self.pending):
                self.history.add("nemesis", f"{kind}: a node is down already; skipped")
                return
            node.kill9()
            self.pending.append((time.monotonic() + down_for, "restart", node))
            what = f"kill -9 n{target} (restart in {down_for:.1f} s)"
        elif kind in ("pause-one", "pause-holder"):
            node = self.nodes[target - 1]
            if not node.up or node.stopped:
                self.history.add("nemesis", f"{kind}: n{target} is down or stopped; skipped")
                return
            node.pause()
            self.pending.append((time.monotonic() + pause_for, "resume", node))
            what = f"SIGSTOP n{target} for {pause_for:.1f} s"
        else:
            self.net.heal()
            what = "heal the network"
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.history.add("nemesis", what)

    def heal(self) -> None:
        self.net.heal()
        for n in self.nodes:
            if n.stopped:
                n.resume()
        for _, what, node in list(self.pending):
            if what == "restart":
                self._restart(node)
        self.pending.clear()
        for n in self.nodes:
            if not n.up:
                self._restart(n)
        self.history.add("nemesis", "healed everything")


# ---------------------------------------------------------------------------------------------------------------
# After the heal: convergence, then the check.

def converged(nodes: list[Node]):
    hashes, applied = [], []
    for n in nodes:
        peers = n.cli("peers", timeout=5)
        if not peers or sum(1 for p in peers if p.get("state") == "alive") != len(nodes):
            return None
        h, s = n.cli("statehash", timeout=5), n.cli("status", timeout=5)
        if not h or not s:
            return None
        hashes.append((h.get("version"), h.get("stateHash")))
        applied.append(s.get("appliedVersion"))
    if len(set(hashes)) == 1 and all(a == hashes[0][0] for a in applied):
        return hashes[0]
    return None


def read_tree(node: Node) -> dict[str, bytes]:
    tree = {}
    for name in sorted(os.listdir(node.mount)):
        with open(os.path.join(node.mount, name), "rb") as f:
            tree[name] = f.read()
    return tree


def check(nodes: list[Node], clients: list[Client], history: History) -> list[str]:
    violations: list[str] = []
    trees = {n.name: read_tree(n) for n in nodes}
    first = nodes[0].name
    reference = trees[first]
    for name, tree in trees.items():
        if tree.keys() != reference.keys():
            only = sorted(set(tree) ^ set(reference))
            violations.append(f"{name} and {first} list different names: {only[:10]}")
        for k in sorted(set(tree) & set(reference)):
            if tree[k] != reference[k]:
                violations.append(f"{k} differs between {name} and {first} ({len(tree[k])} against {len(reference[k])} B)")
    for node_tree_name, tree in trees.items():
        known: set[str] = {SHARED}
        for c in clients:
            for f in c.log.files:
                known.update(f.names)
                present = frozenset(x for x in f.names if x in tree)
                if present not in f.outcomes:
                    state = "acknowledged" if f.settled else "indeterminate"
                    violations.append(f"on {node_tree_name}: c{f.node}-{f.n} ({state}) expected one of "
                                      f"{[sorted(o) for o in f.outcomes]}, found {sorted(present)}")
                for x in present:
                    if tree[x] != f.content and (f.settled or len(tree[x]) > len(f.content) or tree[x] != f.content[:len(tree[x])]):
                        violations.append(f"on {node_tree_name}: {x} has {len(tree[x])} B that are not its content "
                                          f"({len(f.content)} B, {'acknowledged' if f.settled else 'indeterminate'})")
        for x in sorted(set(tree) - known):
            violations.append(f"on {node_tree_name}: {x} was never created by a client")
        violations += [f"on {node_tree_name}: {v}" for v in check_appends(tree.get(SHARED), clients)]
    for c in clients:
        violations += [f"client {c.node.index}: {a}" for a in c.log.anomalies]
    return violations


def check_appends(data: bytes | None, clients: list[Client]) -> list[str]:
    if data is None:
        return [f"{SHARED} is missing"]
    out = []
    attempted = {k: v for c in clients for k, v in c.log.appends.items()}
    if data and not data.endswith(b"\n"):
        out.append(f"{SHARED} ends in a torn line: {data[-40:]!r}")
    seen: dict[tuple[int, int], int] = {}
    for raw in data.split(b"\n")[:-1] if data else []:
        m = LINE.match(raw)
        if not m:
            out.append(f"torn or foreign line in {SHARED}: {raw[:60]!r}")
            continue
        key = (int(m.group(1)), int(m.group(2)))
        if key not in attempted:
            out.append(f"line {key} in {SHARED} was never appended")
        seen[key] = seen.get(key, 0) + 1
    for key, count in seen.items():
        if count > 1:
            out.append(f"append {key} ({attempted.get(key, 'never attempted')}) is in {SHARED} {count} times")
    for key, state in attempted.items():
        if state == "ack" and key not in seen:
            out.append(f"acknowledged append {key} is missing from {SHARED}")
    return out


# ---------------------------------------------------------------------------------------------------------------

def form_cluster(args, work: str, net: Network) -> list[Node]:
    """Starts the nodes (n1 founds, the others join) and waits until every node sees every node alive as a voter."""
    extra = ["--commit-timeout", str(args.commit_timeout), *args.node_arg]
    nodes = [Node(i, shlex.split(args.node), work, net, extra) for i in range(1, args.nodes + 1)]
    nodes[0].launch()
    nodes[0].wait_up()
    token = nodes[0].token()
    for n in nodes[1:]:
        n.launch(join=f"{net.address(1)}:{PORT}", token=token)
    for n in nodes[1:]:
        n.wait_up()
    if not wait_for(lambda: all((p := n.cli("peers", timeout=5)) and sum(1 for r in p if r.get("role") in ("holder", "voter") and r.get("state") == "alive") == len(nodes) for n in nodes), 60, 0.5):
        raise SetupError("the cluster never reached every node alive as a voter:\n" + "\n".join(n.tail(5) for n in nodes))
    return nodes


def tear_down(seed_dir, history, result, nodes, net, work):
    """Keeps a run's history, result and node logs in seed_dir, then stops its nodes, unmounts and removes its network."""
    with open(os.path.join(seed_dir, "history.txt"), "w") as f:
        f.writelines(f"{e.t:8.3f} {e.who:8} {e.what}\n" for e in history.events)
    with open(os.path.join(seed_dir, "result.json"), "w") as f:
        json.dump(result, f, indent=1, default=str)
    for n in nodes or []:
        if n.up:
            os.kill(n.proc.pid, signal.SIGCONT)
            n.proc.kill()
            n.proc.wait(30)
        if os.path.exists(n.log):
            shutil.copy(n.log, os.path.join(seed_dir, f"{n.name}.log"))
    for n in nodes or []:
        subprocess.run(["umount", "-l", n.mount], capture_output=True)
    if net:
        net.close()
    if wait_for(lambda: not any(f" {work}/" in line for line in open("/proc/mounts")), 10):
        shutil.rmtree(work, ignore_errors=True)
    result.setdefault("violations", ["the run did not finish"])


def run_seed(args, seed: int, out_dir: str) -> dict:
    history = History(args.verbose)
    work = tempfile.mkdtemp(prefix=f"nemesis-{seed}-", dir=args.work_dir)
    os.makedirs(os.path.join(out_dir, f"seed-{seed}"), exist_ok=True)
    net = nodes = None
    result: dict = {"seed": seed, "nodes": args.nodes}
    stop = threading.Event()
    clients: list[Client] = []
    try:
        try:
            net = Network(args.nodes)
        except (SetupError, FileNotFoundError) as e:
            raise SetupError(f"network namespaces cannot be made here: {e}") from e
        nodes = form_cluster(args, work, net)
        fd = os.open(os.path.join(nodes[0].mount, SHARED), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.fsync(fd)
        os.close(fd)
        if not wait_for(lambda: all(os.path.exists(os.path.join(n.mount, SHARED)) for n in nodes), 20):
            raise SetupError(f"{SHARED} made on n1 did not appear everywhere")
        history.add("harness", f"cluster of {len(nodes)} up; seed {seed}")

        # "turns" lets one client append at a time; "concurrent" lets every client append at once, each starting on a
        # shared clock tick (Client._append_together). Either way every acknowledged line must be there exactly once
        # (docs/protocol.md, O_APPEND: an append lands at the end of the file in log order).
        mp = multiprocessing.get_context("fork")
        turn = mp.Lock() if args.appends == "turns" else None
        stop_clients, events = mp.Event(), mp.Queue()
        clients = [Client(n, seed, args.ops, stop_clients, events, mp.Queue(), turn) for n in nodes]
        for c in clients:
            c.start()
        drained = threading.Event()
        drainer = threading.Thread(target=history.drain, args=(events, drained), daemon=True)
        drainer.start()
        nemesis = Nemesis(seed, nodes, net, history)
        nemesis.run(args.faults, threading.Event())
        healed = time.monotonic()
        result["faults"] = sum(nemesis.counts.values())
        result["fault_kinds"] = nemesis.counts
        # The clients run on for a moment on the healed cluster, then stop (bounded: a client stuck in a call past
        # the deadline is a liveness failure of its node).
        time.sleep(args.settle)
        stop_clients.set()
        stuck = []
        deadline = time.monotonic() + args.converge
        for c in clients:
            try:
                c.log = c.results.get(timeout=max(1.0, deadline - time.monotonic()))
                c.join(10)
            except Exception:
                last = [e for e in history.events if e.who == c.who][-1:]
                stuck.append(f"client {c.node.index} did not finish within {args.converge} s of the heal (last: {last})")
        drained.set()
        drainer.join(10)
        state = wait_for(lambda: converged(nodes), args.converge, 0.5)
        result["converge_s"] = round(time.monotonic() - healed - args.settle, 1) if state else None
        violations = stuck + nemesis.problems
        if not state:
            views = []
            for n in nodes:
                views.append(f"{n.name}: statehash {n.cli('statehash', timeout=5)} applied {(n.cli('status', timeout=5) or {}).get('appliedVersion')}")
            violations.append(f"no convergence within {args.converge} s of the heal: " + "; ".join(views))
        else:
            result["version"] = state[0]
            if args.sabotage:
                sabotage(args.sabotage, nodes, clients, history)
            violations += check(nodes, clients, history)
        for n in nodes:
            try:
                shutil.copy(os.path.join(n.mount, SHARED), os.path.join(out_dir, f"seed-{seed}", f"{SHARED}.{n.name}"))
            except OSError:
                pass
        result["creates_ack"] = sum(1 for c in clients for f in c.log.files if f.settled)
        result["files_indeterminate"] = sum(1 for c in clients for f in c.log.files if not f.settled)
        result["appends_ack"] = sum(1 for c in clients for v in c.log.appends.values() if v == "ack")
        result["appends_indeterminate"] = sum(1 for c in clients for v in c.log.appends.values() if v != "ack")
        result["ops"] = sum(c.log.ops for c in clients)
        result["failed_calls"] = sum(c.log.failed for c in clients)
        result["violations"] = violations
        return result
    finally:
        stop.set()
        for c in clients:
            if c.is_alive():
                c.kill()
        seed_dir = os.path.join(out_dir, f"seed-{seed}")
        os.makedirs(seed_dir, exist_ok=True)
        tear_down(seed_dir, history, result, nodes, net, work)


# ---------------------------------------------------------------------------------------------------------------
# A fixed scenario instead of a seeded schedule: one cut link after a restart, and how long no holder is followed.

class HolderWatch:
    """Polls `dino-node status --json` on every node (each on its own thread, so a stopped node holds up nobody) and
    keeps, per poll round, whether a holder is followed: a node that reports role holder whose id a majority of the
    nodes (itself included) report as their holder in its term."""

    def __init__(self, nodes: list[Node], history: History, every: float = 0.25):
        self.nodes, self.history, self.every = nodes, history, every
        self.samples: list[tuple[float, str | None]] = []  # (monotonic time, the followed holder's name or None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        last = "?"
        while not self._stop.is_set():
            started = time.monotonic()
            views: dict[int, dict | None] = {}
            threads = [threading.Thread(target=lambda n=n: views.__setitem__(n.index, n.cli("status", timeout=1) if n.up and not n.stopped else None))
                       for n in self.nodes]
            for t in threads:
                t.start()
            for t in threads:
                t.join(2)
            followed = None
            for n in self.nodes:
                v = views.get(n.index)
                if not v or v.get("role") != "holder":
                    continue
                me, term = v.get("peerId"), v.get("term")
                votes = sum(1 for w in views.values() if w and w.get("term") == term and (w.get("holder") == me or w.get("peerId") == me))
                if votes > len(self.nodes) // 2:
                    followed = n.name
            self.samples.append((started, followed))
            if followed != last:
                self.history.add("watch", f"followed holder: {followed or 'none'}")
                last = followed
            self._stop.wait(max(0.0, self.every - (time.monotonic() - started)))

    def longest_without(self, since: float, until: float) -> float:
        """The longest stretch in [since, until] during which no poll found a followed holder (s)."""
        longest, began = 0.0, None
        for t, followed in self.samples:
            if t < since or t > until:
                continue
            if followed is None:
                began = t if began is None else began
                longest = max(longest, t - began)
            else:
                began = None
        if began is not None:
            longest = max(longest, until - began)
        return longest


def run_restart_cut(args, out_dir: str) -> dict:
    """--scenario restart-cut: restart one node (kill -9, back after --down s), then cut its link to one other node (or
    the link --cut-link names) for --cut s, and measure the longest time without a followed holder from the restart on. With --stop-holder S, first
    the sequence of the nemesis run of 2026-12-07: the holder is stopped (SIGSTOP) for S s, long enough for SWIM to
    declare it dead; the node that takes the lease is the one killed 3 s later and restarted --down s after the stopped
    one resumed, and its link to the third node is cut. A majority of the nodes is connected from the resume on (the
    stopped node reaches both), so a holder must be followed within a few election timeouts of it: the verdict is the
    longest stretch without one against --bound."""
    history = History(args.verbose)
    work = tempfile.mkdtemp(prefix="nemesis-restart-cut-", dir=args.work_dir)
    result: dict = {"scenario": "restart-cut", "stop_holder_s": args.stop_holder, "down_s": args.down, "cut_s": args.cut}
    seed_dir = os.path.join(out_dir, "restart-cut")
    os.makedirs(seed_dir, exist_ok=True)
    net = nodes = watch = None
    try:
        try:
            net = Network(3)
        except (SetupError, FileNotFoundError) as e:
            raise SetupError(f"network namespaces cannot be made here: {e}") from e
        nodes = form_cluster(args, work, net)
        history.add("harness", "cluster of 3 up")
        watch = HolderWatch(nodes, history)
        watch.start()
        if not wait_for(lambda: watch.samples and watch.samples[-1][1], 20, 0.2):
            raise SetupError("no holder followed by a majority after forming the cluster")
        by_name = {n.name: n for n in nodes}
        if args.stop_holder > 0:
            stopped = by_name[watch.samples[-1][1]]
            stopped.pause()
            resume_at = time.monotonic() + args.stop_holder
            history.add("scenario", f"SIGSTOP {stopped.name} (the holder) for {args.stop_holder:.1f} s")
            if not wait_for(lambda: watch.samples[-1][1] not in (None, stopped.name), 10, 0.1):
                raise SetupError(f"no other holder within 10 s of stopping {stopped.name}")
            victim = by_name[watch.samples[-1][1]]
            time.sleep(3)
            t = time.monotonic()
            victim.kill9()
            history.add("scenario", f"kill -9 {victim.name} (the new holder; reaped in {time.monotonic() - t:.1f} s)")
            time.sleep(max(0.0, resume_at - time.monotonic()))
            stopped.resume()
            history.add("scenario", f"SIGCONT {stopped.name}")
            connected = time.monotonic()
            time.sleep(args.down)
        else:
            victim = by_name.get(f"n{args.restart}") or nodes[1]
            victim.kill9()
            history.add("scenario", f"kill -9 {victim.name}")
            connected = time.monotonic()
            time.sleep(args.down)
        victim.launch()
        victim.wait_up(60)
        history.add("scenario", f"restart {victim.name}: mounted again")
        if args.cut_link:
            a, b = (by_name[f"n{i}"] for i in args.cut_link.split("-"))
        elif args.stop_holder > 0:
            a, b = victim, next(n for n in nodes if n is not victim and n is not stopped)
        else:
            a, b = victim, by_name.get(f"n{args.cut_to}") or nodes[2]
        net.split({a.index}, {b.index})
        history.add("scenario", f"cut the link {a.name} - {b.name} for {args.cut:.0f} s")
        time.sleep(args.cut)
        end = time.monotonic()
        net.heal()
        history.add("scenario", "heal the network")
        wait_for(lambda: watch.samples[-1][1] is not None, 20, 0.2)
        watch.stop()
        longest = watch.longest_without(connected, end)
        result["longest_without_holder_s"] = round(longest, 2)
        result["violations"] = [] if longest <= args.bound else [
            f"no followed holder for {longest:.1f} s (bound {args.bound:.1f} s) while a majority of the nodes was connected"]
        return result
    finally:
        if watch:
            watch.stop()
        tear_down(seed_dir, history, result, nodes, net, work)


def sabotage(kind: str, nodes: list[Node], clients: list[Client], history: History) -> None:
    """Breaks the outcome on purpose, after convergence and before the check, to show that the check catches it:
    an acknowledged append line written a second time by hand, or an acknowledged create's content changed."""
    node = nodes[0]
    if kind == "duplicate-append":
        key = next(k for c in clients for k, v in c.log.appends.items() if v == "ack")
        with open(os.path.join(node.mount, SHARED), "ab") as f:
            f.write(f"{key[0]} {key[1]}\n".encode())
        history.add("harness", f"sabotage: wrote append {key} a second time on {node.name}")
    elif kind == "change-create":
        name = next(next(iter(f.outcomes[0])) for c in clients for f in c.log.files if f.settled and len(f.outcomes[0]) == 1)
        with open(os.path.join(node.mount, name), "ab") as f:
            f.write(b"x")
        history.add("harness", f"sabotage: appended a byte to {name} on {node.name}")
    # Let the change reach every node before the mounts are read.
    time.sleep(0.5)
    wait_for(lambda: converged(nodes), 20, 0.5)


def parse_seeds(text: str) -> list[int]:
    seeds = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        seeds += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return seeds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--node", default=os.environ.get("DINOMESH_TEST_NODE"),
                   help="the dino-node command: the Native AOT executable, or 'dotnet .../dino-node.dll'")
    p.add_argument("--seed", type=int)
    p.add_argument("--seeds", help="a list or range of seeds: 1-20 or 3,7,9")
    p.add_argument("--nodes", type=int, default=3, choices=[3, 5])
    p.add_argument("--faults", type=int, default=25, help="faults per run (every 1-3 s)")
    p.add_argument("--ops", type=int, default=400, help="operations per client at most")
    p.add_argument("--settle", type=float, default=3.0, help="seconds the clients run on after the heal")
    p.add_argument("--converge", type=float, default=90.0, help="deadline for convergence after the heal (s)")
    p.add_argument("--appends", choices=["turns", "concurrent"], default="turns",
                   help="turns: one client appends at a time; concurrent: all at once, aligned on a shared 50 ms tick")
    p.add_argument("--commit-timeout", type=int, default=4)
    p.add_argument("--node-arg", action="append", default=[], help="one more dino-node argument (repeatable)")
    p.add_argument("--sabotage", choices=["duplicate-append", "change-create"],
                   help="break the outcome on purpose before the check (it must then fail)")
    p.add_argument("--verbose", action="store_true", help="print the faults and failed calls as they happen")
    p.add_argument("--work-dir", default="/var/tmp")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "nemesis"))
    p.add_argument("--scenario", choices=["restart-cut"],
                   help="instead of seeded faults, a fixed scenario (see run_restart_cut): restart-cut")
    p.add_argument("--stop-holder", type=float, default=0.0,
                   help="restart-cut: first stop the holder this long (s) and kill the node that takes over")
    p.add_argument("--restart", type=int, default=2, help="restart-cut without --stop-holder: the node restarted")
    p.add_argument("--cut-to", type=int, default=3, help="restart-cut without --stop-holder: its link to this node is cut")
    p.add_argument("--cut-link", help="restart-cut: cut this link instead (\"1-2\": between n1 and n2)")
    p.add_argument("--down", type=float, default=4.0, help="restart-cut: seconds the killed node stays down")
    p.add_argument("--cut", type=float, default=20.0, help="restart-cut: seconds the link stays cut")
    p.add_argument("--bound", type=float, default=6.0,
                   help="restart-cut: the longest a connected majority may go without a followed holder (s)")
    args = p.parse_args()
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 PID prints every thread's stack
    # SIGTERM (a test's timeout, a kill) unwinds like Ctrl+C, so the nodes, mounts and namespaces are cleaned up.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if not args.node:
        p.error("--node (or DINOMESH_TEST_NODE) is required")
    if args.scenario == "restart-cut":
        try:
            r = run_restart_cut(args, args.out)
        except SetupError as e:
            print(f"restart-cut: cannot set up: {e}", file=sys.stderr)
            return 2
        verdict = "ok" if not r["violations"] else "; ".join(r["violations"])
        print(f"restart-cut (stop holder {args.stop_holder:.1f} s, down {args.down:.1f} s, cut {args.cut:.0f} s): longest without a "
              f"followed holder {r.get('longest_without_holder_s')} s: {verdict} (history in {args.out}/restart-cut/)", flush=True)
        print("RESULT " + json.dumps(r, default=str))
        return 1 if r["violations"] else 0
    seeds = parse_seeds(args.seeds) if args.seeds else [args.seed if args.seed is not None else 1]
    results, failed = [], False
    for seed in seeds:
        started = time.monotonic()
        try:
            r = run_seed(args, seed, args.out)
        except SetupError as e:
            print(f"seed {seed}: cannot set up: {e}", file=sys.stderr)
            return 2
        r["wall_s"] = round(time.monotonic() - started, 1)
        results.append(r)
        verdict = "ok" if not r["violations"] else f"{len(r['violations'])} VIOLATION(S)"
        print(f"seed {seed}: {verdict}; {r.get('faults')} faults {r.get('fault_kinds')}; converged in {r.get('converge_s')} s; "
              f"creates {r.get('creates_ack')} acked / {r.get('files_indeterminate')} indeterminate files, appends {r.get('appends_ack')} acked / "
              f"{r.get('appends_indeterminate')} indeterminate; {r['wall_s']} s", flush=True)
        if r["violations"]:
            failed = True
            print(f"--- seed {seed}: violations (full history and node logs in {args.out}/seed-{seed}/) ---")
            # The same finding on every mount is printed once, with the mounts that show it.
            grouped: dict[str, list[str]] = {}
            for v in r["violations"]:
                m = re.match(r"on (n\d+): (.*)", v)
                grouped.setdefault(m.group(2) if m else v, []).append(m.group(1) if m else "")
            for i, (v, where) in enumerate(grouped.items()):
                if i == 12:
                    print(f"  ... and {len(grouped) - 12} more")
                    break
                print(f"  {v}" + (f" (on {', '.join(where)})" if any(where) else ""))
                needle = re.search(r"c\d+-\d+(\.r\d+)?|\(\d+, \d+\)", v)
                if needle and i < 4:
                    print(history_excerpt(os.path.join(args.out, f"seed-{seed}", "history.txt"), needle.group(0)))
    converge = [r["converge_s"] for r in results if r.get("converge_s") is not None]
    if len(results) > 1 and converge:
        print(f"{len(results)} seeds, {sum(1 for r in results if r['violations'])} failed; converge after heal: median "
              f"{statistics.median(converge):.1f} s, max {max(converge):.1f} s")
    print("RESULT " + json.dumps(results, default=str))
    return 1 if failed else 0


def history_excerpt(path: str, needle: str, span: float = 3.0) -> str:
    """The history from SPAN seconds before the first line naming NEEDLE to SPAN after its last: every fault, every
    line naming it, and the failed calls of any client (at most 25 lines)."""
    lines = open(path).read().splitlines()
    times = [float(l.split()[0]) for l in lines if needle in l]
    if not times:
        return "    (no line of the history names it)"
    keep = [l for l in lines if needle in l or (times[0] - span <= float(l.split()[0]) <= times[-1] + span
                                                 and (" nemesis " in l or " -> " in l))]
    return "\n".join("    " + l for l in keep[:25])


if __name__ == "__main__":
    sys.exit(main())
