using System.Globalization;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Load.Micro;

/// <summary>
/// Bytes allocated per commit round of one writer, by step, holder and follower. Two real lease drivers (the holder and
/// one follower, both voters, so every commit needs the follower's answer) on real logs in temp directories, wired by
/// <see cref="SyncWire"/>: what one driver sends is encoded and decoded with the lease codec, as on the wire, and handed
/// to the other on the same thread, so one <see cref="LeaseDriver.Propose"/> is a whole round (the append out, the
/// follower's round and answer, the holder's commit and apply, the follower's apply) and every step's allocations are
/// counted on this thread (<see cref="GC.GetAllocatedBytesForCurrentThread"/>). Files are made as the one-writer
/// benchmark makes them: a create, then a write of 4 KiB inline, two commits per file. Not a BenchmarkDotNet benchmark:
/// the state and the log grow with every round, so a run is a bounded stream (<c>--files</c>, after <c>--warmup</c>),
/// not repeated identical operations; the transport's own buffers (the lean path's frames) are not in it.
/// </summary>
internal static class CommitRoundAllocs
{
    private static readonly PeerId Holder = new(new string('a', 64));
    private static readonly PeerId Follower = new(new string('b', 64));

    public static int Run(string[] args)
    {
        var files = Option(args, "--files", 10_000);
        var warmup = Option(args, "--warmup", 2_000);
        var root = Directory.CreateTempSubdirectory("dinomesh-commit-round-").FullName;
        var owned = new List<IDisposable>();
        try
        {
            MetadataReplica Open(string name)
            {
                var data = DataDirectory.Open(Path.Combine(root, name));
                var log = MetadataLog.Open(data.MetadataPath);
                var replica = MetadataReplica.Open(log, new ChunkStore(data), NullLogger.Instance);
                owned.AddRange([replica, log, data]);
                return replica;
            }
            var (holderReplica, followerReplica) = (Open("holder"), Open("follower"));
            LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], Holder), Proposer = Holder, TimeNs = 1 });
            var wire = new SyncWire();
            var holder = wire.Join(Holder, holderReplica);
            var follower = wire.Join(Follower, followerReplica);
            try
            {
                holder.Start([Holder, Follower]);
                follower.Start([Holder, Follower]);
                Until(() => holder.Status is { Role: LeaseRole.Holder } s && s.Applied >= s.LastVersion, "the founder did not take the lease");
                var admit = new Mutation { Kind = new AdmitMember(Follower, "127.0.0.2:1"), Proposer = Holder, Op = new OpId([9], 1) };
                var voters = new Mutation { Kind = new SetVoters([Holder, Follower]), Proposer = Holder, Op = new OpId([9], 2) };
                foreach (var change in new[] { admit, voters })
                {
                    Expect(holder.Propose(change, MutationCodec.Encode(change)));
                    Until(() => holder.Status is var s && s.Applied >= s.LastVersion && follower.Status.Applied >= s.LastVersion, "a voter change did not commit");
                }

                var writer = new OneWriter(holder, holderReplica, wire.Steps);
                for (var i = 1; i <= warmup; i++) writer.File(i);
                Until(() => follower.Status.Applied >= holder.Status.Commit, "the follower did not catch up after the warm-up");
                wire.Steps.Clear();
                using var types = args.Contains("--types") ? new AllocatedTypes() : null;
                var gen0 = GC.CollectionCount(0);
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                for (var i = warmup + 1; i <= warmup + files; i++) writer.File(i);
                var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
                var rounds = 2 * files;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{files} files ({rounds} commit rounds) after {warmup} warm-up files; {elapsed.TotalMilliseconds / rounds * 1000:F1} µs per round on this thread; gen0 GCs {GC.CollectionCount(0) - gen0}"));
                Console.WriteLine(wire.Steps.Describe(rounds));
                if (types is not null) Console.WriteLine(types.Describe(rounds));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"holder applied {holderReplica.Current.Version}, follower applied {followerReplica.Current.Version}"));
            }
            finally
            {
                holder.DisposeAsync().AsTask().GetAwaiter().GetResult();
                follower.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return 0;
        }
        finally
        {
            // Each replica before its log, each log before its data directory (the replica's last snapshot reads the log).
            foreach (var disposable in owned) disposable.Dispose();
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Creates file i in the root, then writes 4 KiB into it inline: the two commits of one file.</summary>
    private sealed class OneWriter(LeaseDriver holder, MetadataReplica replica, StepAllocations steps)
    {
        // 16 bytes, as the volume's MutationClock makes a client id (the op window is keyed by it).
        private static readonly byte[] Client = [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7];
        private readonly byte[] _content = new byte[Extent.MaxInline];

        public void File(int i)
        {
            var create = new Mutation
            {
                Kind = new CreateNode(FileSystemState.RootIno, FileName.FromString($"f{i}"), FileMode.Regular | 0x1A4, 0, 0, 0),
                Op = new OpId(Client, (ulong)(2 * i)),
                Proposer = Holder,
                TimeNs = 2L * i,
            };
            Commit(create);
            var ino = replica.Current.NextIno - 1;
            var write = new Mutation
            {
                Kind = new WriteExtents(ino, [new Extent(0, _content.Length, default, 0, _content)], (ulong)_content.Length),
                Op = new OpId(Client, (ulong)(2 * i + 1)),
                Proposer = Holder,
                TimeNs = 2L * i + 1,
            };
            Commit(write);
        }

        private void Commit(Mutation mutation)
        {
            var encoded = steps.Measure("holder: encode the mutation", () => MutationCodec.Encode(mutation));
            Expect(steps.Measure("holder: Propose, its own part (check on the tip, log write, Ready, apply)", () => holder.Propose(mutation, encoded)));
        }
    }

    private static void Expect(ProposeResponse response)
    {
        if (response.Outcome != ProposeOutcome.Appended) throw new InvalidOperationException($"a proposal was {response.Outcome}");
    }

    private static void Until(Func<bool> done, string failure)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!done())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException(failure);
            Thread.Sleep(5);
        }
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], CultureInfo.InvariantCulture, out var value) ? value : fallback;
    }
}

/// <summary>
/// Bytes allocated on this thread per named step; a step's own bytes exclude the steps measured inside it (the
/// holder's Propose holds the whole round, since the wire delivers on the proposer's thread).
/// </summary>
internal sealed class StepAllocations
{
    private readonly Dictionary<string, (long Bytes, long Count)> _steps = [];
    private readonly Stack<long> _nested = new();
    // Only the writer's thread is counted: the drivers' clocks also send (heartbeats, held-back notices) from theirs.
    private readonly int _owner = Environment.CurrentManagedThreadId;

    public T Measure<T>(string step, Func<T> action)
    {
        if (Environment.CurrentManagedThreadId != _owner) return action();
        _nested.Push(0);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var result = action();
        var total = GC.GetAllocatedBytesForCurrentThread() - before;
        var inner = _nested.Pop();
        if (_nested.Count > 0) _nested.Push(_nested.Pop() + total);
        var (bytes, count) = _steps.GetValueOrDefault(step);
        _steps[step] = (bytes + total - inner, count + 1);
        return result;
    }

    public void Measure(string step, Action action) => Measure(step, () =>
    {
        action();
        return 0;
    });

    public void Clear() => _steps.Clear();

    public string Describe(int rounds)
    {
        var lines = _steps.OrderBy(s => s.Key, StringComparer.Ordinal)
            .Select(s => string.Create(CultureInfo.InvariantCulture, $"  {s.Key,-80} {s.Value.Bytes / (double)rounds,8:F0} B/round ({s.Value.Count} times)"));
        var total = _steps.Values.Sum(s => s.Bytes);
        return string.Join('\n', lines) + string.Create(CultureInfo.InvariantCulture, $"\n  {"total",-80} {total / (double)rounds,8:F0} B/round");
    }
}

/// <summary>
/// Two lease drivers wired on the caller's thread: a driver's messages leave at its flush, encoded and decoded as a
/// batch the way the transport carries them; the receiver answers in the same call (its acknowledgement goes back in
/// the answer), the sender handles the answer, and then the receiver does its after-work (its apply), as the lean
/// path runs it. Calls to the holder are not used (the writer proposes on the holder itself).
/// </summary>
internal sealed class SyncWire
{
    private readonly Dictionary<PeerId, LeaseDriver> _drivers = [];
    private readonly Dictionary<PeerId, List<(PeerId To, LeaseMessage Message)>> _queued = [];
    private readonly Lock _gate = new();

    public StepAllocations Steps { get; } = new();

    public LeaseDriver Join(PeerId self, MetadataReplica replica)
    {
        var driver = new LeaseDriver(self, replica, new Endpoint(this, self), new LeaseTiming(), NullLogger.Instance);
        _drivers[self] = driver;
        _queued[self] = [];
        return driver;
    }

    private void Send(PeerId from, PeerId to, LeaseMessage message)
    {
        lock (_gate) _queued[from].Add((to, message));
    }

    private void Flush(PeerId from)
    {
        // The drivers' clocks flush from their own threads too (heartbeats, held-back notices): those are delivered on
        // that thread and not counted (StepAllocations counts the writer's thread only).
        while (true)
        {
            (PeerId To, LeaseMessage Message)[] batch;
            lock (_gate)
            {
                batch = [.. _queued[from]];
                _queued[from].Clear();
            }
            if (batch.Length == 0) return;
            foreach (var to in batch.Select(b => b.To).Distinct().ToArray()) Deliver(from, to, [.. batch.Where(b => b.To == to).Select(b => b.Message)]);
        }
    }

    private void Deliver(PeerId from, PeerId to, LeaseMessage[] messages)
    {
        if (!_drivers.TryGetValue(to, out var receiver) || !_drivers.TryGetValue(from, out var sender)) return;
        var (self, peer) = from == _drivers.Keys.First() ? ("holder", "follower") : ("follower", "holder");
        var body = Steps.Measure($"{self}: encode its batch", () => LeaseCodec.Encode(new LeaseBatch(messages)));
        var batch = Steps.Measure($"{peer}: decode the batch", () => LeaseCodec.Decode<LeaseBatch>(body, LeaseProtocols.MaxLeaseBytes));
        Action after = () => { };
        var answers = Steps.Measure($"{peer}: ReceiveAndAnswer (append logged, answer made)", () => receiver.ReceiveAndAnswer(from, batch.Messages, out after));
        if (answers.Count > 0)
        {
            var answer = Steps.Measure($"{peer}: encode the answer", () => LeaseCodec.Encode(new LeaseBatch([.. answers])));
            var decoded = Steps.Measure($"{self}: decode the answer", () => LeaseCodec.Decode<LeaseBatch>(answer, LeaseProtocols.MaxLeaseBytes));
            Steps.Measure($"{self}: Receive of the answer (commit, apply, reply)", () => sender.Receive(to, decoded.Messages));
        }
        Steps.Measure($"{peer}: after the answer (apply)", after);
    }

    private sealed class Endpoint(SyncWire wire, PeerId self) : ILeaseNetwork
    {
        public void Send(PeerId to, LeaseMessage message) => wire.Send(self, to, message);

        public void Flush() => wire.Flush(self);

        public Task<ProposeResponse?> ProposeAsync(PeerId holder, byte[] mutation, TimeSpan deadline, CancellationToken ct) =>
            Task.FromResult<ProposeResponse?>(null);

        public Task<SyncResponse?> SyncAsync(PeerId holder, long version, TimeSpan deadline, CancellationToken ct) =>
            Task.FromResult<SyncResponse?>(null);

        public Task<ReadIndexResponse?> ReadIndexAsync(PeerId holder, TimeSpan deadline, CancellationToken ct) =>
            Task.FromResult<ReadIndexResponse?>(null);
    }
}

/// <summary>
/// The runtime's allocation samples (one event about every 100 KB allocated, naming the type of the object that
/// crossed the mark), summed by type: a rough split of what the bytes are, from every thread of the process.
/// </summary>
internal sealed class AllocatedTypes : System.Diagnostics.Tracing.EventListener
{
    private readonly Dictionary<string, long> _bytes = [];
    private readonly Lock _gate = new();

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        // GC keyword (0x1) at verbose level carries GCAllocationTick.
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is null) return;
        var type = e.Payload![e.PayloadNames.IndexOf("TypeName")] as string ?? "?";
        var amount = Convert.ToInt64(e.Payload[e.PayloadNames.IndexOf("AllocationAmount64")], CultureInfo.InvariantCulture);
        lock (_gate) _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
    }

    public string Describe(int rounds)
    {
        lock (_gate)
        {
            var total = _bytes.Values.Sum();
            return "allocation samples by type (every thread):\n" + string.Join('\n', _bytes.OrderByDescending(t => t.Value).Take(30)
                .Select(t => string.Create(CultureInfo.InvariantCulture, $"  {t.Key,-100} {t.Value / (double)rounds,8:F0} B/round {100.0 * t.Value / total,5:F1} %")));
        }
    }
}
