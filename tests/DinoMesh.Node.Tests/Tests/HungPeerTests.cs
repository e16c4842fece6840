using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// A follower hangs (SIGSTOP: its process stops, its TCP connections stay up and its kernel still takes bytes until
/// its receive buffers fill, as with a hung machine) for 15 s while a writer on the lease holder and one on the other
/// follower go on, then resumes. Two of three voters are up, so the writers must go on committing: no operation waits
/// longer than the documented timeouts allow, nothing acknowledged is lost on either running node, the holder's mount
/// answers lookups at once, and the resumed node catches up and shows every file.
/// </summary>
public sealed class HungPeerTests : IDisposable
{
    private static readonly TimeSpan HungFor = TimeSpan.FromSeconds(15);

    /// <summary>How long the writers run before the stop, so that pushes and commits are in flight when it comes.</summary>
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(2);

    /// <summary>The writers stop this long into the stop: the rest of it reads every file back on the two running nodes.</summary>
    private static readonly TimeSpan WritingWhileHung = TimeSpan.FromSeconds(11);

    /// <summary>
    /// A push to a placement node that hangs waits until the node is held dead (at most the crash-detection bound of
    /// SWIM's <c>local</c> profile, <see cref="MembershipBounds.CrashDetection"/>: 3.6 s for 3 members), then goes to the
    /// next member of the chunk's ranking (protocol.md, "Placement"); the commit needs no answer from the hung node (the
    /// holder and the other follower are a majority). Plus the 5 s that <see cref="MembershipBounds.Deadline"/> allows a
    /// loaded machine. Not the put deadline (10 s): a push to a member declared dead is called off.
    /// </summary>
    private static readonly TimeSpan AnyOperation = MembershipBounds.CrashDetection(3) + TimeSpan.FromSeconds(5);

    /// <summary>
    /// Once every running node holds the hung node dead, it is no placement node and no voter to wait for, and an
    /// operation begun then waits for no timeout at all: the loaded-machine slack alone.
    /// </summary>
    private static readonly TimeSpan OperationAfterDeath = TimeSpan.FromSeconds(5);

    /// <summary>A lookup of a name the holder's mount does not hold is answered from its local replica (reads never wait for a peer).</summary>
    private static readonly TimeSpan LocalLookup = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// What each running node writes, each stream on a thread of its own, each create+write+close timed as one
    /// operation: 4 KiB files (inline in their commit: the metadata path alone), 64 KiB files (one chunk, one push each,
    /// so pushes are under way whenever the hang comes) and 8 MiB files (8 chunks, pushed while the file is written).
    /// </summary>
    private static readonly WriteStream[] Streams =
    [
        new("small", 4096, TimeSpan.FromMilliseconds(25), 1000),
        new("chunk", 64 << 10, TimeSpan.FromMilliseconds(50), 500),
        new("big", 8 << 20, TimeSpan.FromMilliseconds(1000), 12),
    ];

    private readonly TestCluster _cluster;

    public HungPeerTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.181", "127.0.0.182", "127.0.0.183"]);
    }

    /// <param name="pushesAimedAtIt">Every chunk written is one whose push goes to the hung node while it is held alive (the worst case for a close).</param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_follower_hung_for_15_s_holds_up_no_writer_loses_nothing_and_catches_up(bool pushesAimedAtIt)
    {
        var nodes = new[] { _cluster.Add("n1", "127.0.0.181"), _cluster.Add("n2", "127.0.0.182"), _cluster.Add("n3", "127.0.0.183") };
        _cluster.FormWith(["--replicas", "2"], nodes);
        _cluster.WaitForViews(nodes, v => TestCluster.AllAlive(v, nodes), TimeSpan.FromSeconds(30), "every node sees every other alive");
        _cluster.WaitForVoters(nodes, 3);
        var holder = _cluster.WaitForHolder(nodes);
        var hung = nodes.First(n => n != holder);
        var running = nodes.Where(n => n != hung).ToArray();
        _cluster.Log($"{hung.Name} will hang; writers on {holder.Name} (holder) and {running[1].Name}");

        var clock = Stopwatch.StartNew();
        var files = new ConcurrentBag<WrittenFile>();
        var ops = new ConcurrentBag<Operation>();
        var lookups = new ConcurrentBag<(TimeSpan At, TimeSpan Took)>();
        using var stop = new CancellationTokenSource();
        var aim = pushesAimedAtIt ? hung.PeerId : null;
        var threads = running.SelectMany(w => Streams.Select(kind => Start(() => Write(w, kind, nodes, aim, clock, files, ops, stop.Token))))
            .Append(Start(() => LookUp(holder, clock, lookups, stop.Token))).ToArray();

        TimeSpan hungAt, deadAt;
        Thread.Sleep(WarmUp);
        Assert.Equal(0, Signal.Send(hung.Daemon!.Pid, Signal.SIGSTOP));
        try
        {
            hungAt = clock.Elapsed;
            _cluster.Log($"{hung.Name} stopped");
            // When both running nodes hold it dead (polled from here, so a little late: the bound after it is then looser, never tighter).
            Check.True(Poll.Until(() => Concurrently.Map(running, r => r.StateOf(hung.PeerId!)).All(s => s == "dead"),
                MembershipBounds.Deadline(MembershipBounds.CrashDetection(3)), TimeSpan.FromMilliseconds(100)) is not null,
                () => $"the running nodes do not hold {hung.Name} dead\n{_cluster.Diagnostics()}");
            deadAt = clock.Elapsed;
            _cluster.Log($"{hung.Name} held dead by both running nodes");
            var writeUntil = hungAt + WritingWhileHung;
            if (clock.Elapsed < writeUntil) Thread.Sleep(writeUntil - clock.Elapsed);
            stop.Cancel();
            foreach (var t in threads) Assert.True(t.Join(AnyOperation * 2), "a writer or the lookup thread did not end");
            _cluster.Log($"writers stopped: {ops.Count} operations, {files.Count} files");

            AssertWritersWentOn(ops, running, hungAt, deadAt);
            Check.True(lookups.All(l => l.Took < LocalLookup), () =>
                $"lookups on the holder's mount took up to {lookups.Max(l => l.Took).TotalMilliseconds:F0} ms (bound {LocalLookup.TotalMilliseconds:F0} ms): " +
                string.Join(", ", lookups.Where(l => l.Took >= LocalLookup).OrderBy(l => l.At).Select(l => $"{l.Took.TotalMilliseconds:F0} ms at {l.At.TotalSeconds:F1} s")) +
                $"\n{_cluster.Diagnostics()}");
            _cluster.Log($"{lookups.Count} lookups on {holder.Name}, slowest {lookups.Max(l => l.Took).TotalMilliseconds:F0} ms");

            // Nothing acknowledged is lost: every file reads back on both running nodes while the third is still stopped.
            foreach (var r in running) AssertHolds(r, files, TimeSpan.FromSeconds(20));
            _cluster.Log($"every file reads back on {string.Join(" and ", running.Select(r => r.Name))}; {hung.Name} still stopped");
            Assert.True(clock.Elapsed - hungAt < HungFor + TimeSpan.FromSeconds(20), "the checks while stopped overran");
            if (clock.Elapsed - hungAt < HungFor) Thread.Sleep(HungFor - (clock.Elapsed - hungAt));
        }
        finally
        {
            stop.Cancel();
            Signal.Send(hung.Daemon!.Pid, Signal.SIGCONT);
        }
        var resumedAt = clock.Elapsed;
        _cluster.Log($"{hung.Name} resumed after {(resumedAt - hungAt).TotalSeconds:F1} s");

        // Caught up: the same state hash and version on all three. A resumed voter is sent what it lacks at the next
        // heartbeat; SWIM takes it back at the next anti-entropy sync at the latest, and the holder then promotes it.
        var catchUp = MembershipBounds.Deadline(MembershipBounds.PartitionHeal(3));
        string[] hashes = [];
        var took = Poll.Until(() =>
        {
            hashes = [.. Concurrently.Map(nodes, n => n.Cli("statehash").Stdout.Trim())];
            return hashes.Distinct().Count() == 1 && hashes[0].Length > 0;
        }, catchUp, TimeSpan.FromMilliseconds(250));
        Check.True(took is not null, () => $"no common state within {catchUp.TotalSeconds:F0} s of SIGCONT: {string.Join(" | ", hashes)}\n{_cluster.Diagnostics()}");
        _cluster.Log($"{hung.Name} caught up {took!.Value.TotalSeconds:F1} s after SIGCONT: {hashes[0]}");
        AssertHolds(hung, files, TimeSpan.FromSeconds(5));
        foreach (var r in running) AssertHolds(r, files, TimeSpan.FromSeconds(5));
        _cluster.Log($"every file reads back on all three");
    }

    /// <summary>
    /// Writes one stream until told to stop (or its cap), starting an operation at most every <see cref="WriteStream.Pace"/>.
    /// With <paramref name="aim"/>, every chunk's bytes are drawn until its push goes to that node.
    /// </summary>
    private static void Write(NodeProcess writer, WriteStream kind, NodeProcess[] nodes, string? aim, Stopwatch clock,
        ConcurrentBag<WrittenFile> files, ConcurrentBag<Operation> ops, CancellationToken stop)
    {
        var others = nodes.Where(n => n != writer).Select(n => n.PeerId!).ToArray();
        for (var i = 0; i < kind.Cap && !stop.IsCancellationRequested; i++)
        {
            var bytes = Contents(kind.Bytes, aim, others);
            var name = $"{writer.Name}-{kind.Name}-{i:D4}";
            var started = clock.Elapsed;
            // open, write, close by hand: .NET's FileStream drops what close(2) answers, and a failed commit is told there.
            var errno = Fs.CreateExclusive(Path.Combine(writer.MountPoint, name), bytes);
            string? error = errno switch
            {
                0 => null,
                // A signal to this process (a CLI child exiting) interrupted the call: it may or may not have committed,
                // so the file is neither counted as written nor as a failure.
                Fs.EINTR => null,
                _ => $"errno {errno}",
            };
            if (errno == 0) files.Add(new WrittenFile(name, bytes.Length, SHA256.HashData(bytes)));
            ops.Add(new Operation(writer.Name, name, started, clock.Elapsed - started, error));
            var next = started + kind.Pace - clock.Elapsed;
            if (next > TimeSpan.Zero) stop.WaitHandle.WaitOne(next);
        }
    }

    /// <summary>Random bytes; with an aim, each 1 MiB block (a chunk of its own) drawn again until its push goes there.</summary>
    private static byte[] Contents(int length, string? aim, string[] others)
    {
        var bytes = new byte[length];
        for (var at = 0; at < length; at += 1 << 20)
        {
            var block = bytes.AsSpan(at, Math.Min(1 << 20, length - at));
            for (var draw = 0; draw < 64; draw++)
            {
                RandomNumberGenerator.Fill(block);
                if (aim is null || PushTarget.Is(block, aim, others)) break;
            }
        }
        return bytes;
    }

    /// <summary>A lookup of a fresh name (never cached by the kernel, so the daemon answers it) on the holder's mount every 100 ms.</summary>
    private static void LookUp(NodeProcess holder, Stopwatch clock, ConcurrentBag<(TimeSpan, TimeSpan)> lookups, CancellationToken stop)
    {
        for (var i = 0; i < 1000 && !stop.IsCancellationRequested; i++)
        {
            var started = clock.Elapsed;
            _ = File.Exists(Path.Combine(holder.MountPoint, $"absent-{i}"));
            lookups.Add((started, clock.Elapsed - started));
            stop.WaitHandle.WaitOne(100);
        }
    }

    private void AssertWritersWentOn(ConcurrentBag<Operation> ops, NodeProcess[] writers, TimeSpan hungAt, TimeSpan deadAt)
    {
        foreach (var w in writers)
        {
            var mine = ops.Where(o => o.Writer == w.Name).OrderBy(o => o.Started).ToList();
            var slowest = mine.MaxBy(o => o.Took)!;
            _cluster.Log($"{w.Name}: {mine.Count} operations, {mine.Count(o => o.Started >= deadAt)} after the death, slowest {slowest.Took.TotalSeconds:F2} s ({slowest.Name} at {slowest.Started.TotalSeconds:F1} s)");
            foreach (var o in mine.Where(o => o.Took > TimeSpan.FromSeconds(1))) _cluster.Log($"  slow: {o.Name} at {o.Started.TotalSeconds:F1} s took {o.Took.TotalSeconds:F2} s");
        }
        var failed = ops.Where(o => o.Error is not null).ToList();
        Check.True(failed.Count == 0, () => $"{failed.Count} operations failed with a majority up: {string.Join("; ", failed.Take(5).Select(o => $"{o.Name}: {o.Error}"))}\n{_cluster.Diagnostics()}");
        var tooSlow = ops.Where(o => o.Took > AnyOperation || (o.Started >= deadAt && o.Took > OperationAfterDeath)).ToList();
        Check.True(tooSlow.Count == 0, () =>
            $"operations waited past their bound ({AnyOperation.TotalSeconds:F0} s; {OperationAfterDeath.TotalSeconds:F0} s once begun after the death at {deadAt.TotalSeconds:F1} s; stopped at {hungAt.TotalSeconds:F1} s): " +
            string.Join("; ", tooSlow.OrderBy(o => o.Started).Take(10).Select(o => $"{o.Name} at {o.Started.TotalSeconds:F1} s took {o.Took.TotalSeconds:F1} s")) +
            $"\n{_cluster.Diagnostics()}");
        foreach (var w in writers)
        {
            Assert.True(ops.Count(o => o.Writer == w.Name && o.Started >= deadAt) >= 10, $"{w.Name} committed fewer than 10 files while the hung node was held dead");
        }
    }

    /// <summary>Every file is listed on the node's mount and reads back with its bytes (waiting, bounded, for the commits of the other writer to arrive).</summary>
    private static void AssertHolds(NodeProcess node, IEnumerable<WrittenFile> files, TimeSpan visible)
    {
        var expected = files.ToDictionary(f => f.Name);
        string[] missing = [];
        var seen = Poll.Until(() =>
        {
            var listed = Directory.GetFiles(node.MountPoint).Select(Path.GetFileName).ToHashSet();
            missing = [.. expected.Keys.Where(k => !listed.Contains(k))];
            return missing.Length == 0;
        }, visible, TimeSpan.FromMilliseconds(250));
        Assert.True(seen is not null, $"{node.Name} lists {missing.Length} acknowledged files not: {string.Join(", ", missing.Take(10))}");
        foreach (var f in expected.Values)
        {
            var bytes = File.ReadAllBytes(Path.Combine(node.MountPoint, f.Name));
            Assert.True(bytes.Length == f.Length && SHA256.HashData(bytes).AsSpan().SequenceEqual(f.Sha256), $"{f.Name} reads back wrong on {node.Name} ({bytes.Length} bytes)");
        }
    }

    private static Thread Start(Action body)
    {
        var t = new Thread(() => body()) { IsBackground = true };
        t.Start();
        return t;
    }

    private sealed record WriteStream(string Name, int Bytes, TimeSpan Pace, int Cap);

    private sealed record WrittenFile(string Name, int Length, byte[] Sha256);

    private sealed record Operation(string Writer, string Name, TimeSpan Started, TimeSpan Took, string? Error);

    public void Dispose() => _cluster.Dispose();
}
