using System.Diagnostics;
using System.Globalization;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;
using DinoMesh.Load.Chunks;
using Microsoft.Extensions.Logging.Abstractions;

// Chunk transfer between two nodes in one process over loopback mutual TLS (HTTP/2), on disk stores in a temp
// directory (page cache warm: nothing here drops caches). Each figure is the median of --runs runs.
//   dino-load-chunks [--mib 256] [--runs 3] [--parallel 8]
// Small calls (100 B each way) over HTTP/2, the bulk path and CallAsync's default path, 1 and 8 in flight:
//   dino-load-chunks calls [--calls 5000] [--runs 5] [--size 100]
if (args.Length > 0 && args[0] == "calls")
{
    return await SmallCalls.RunAsync(Arg("--calls", 5000), Arg("--runs", 5), [1, 8],
        [SmallCalls.Path.Http2, SmallCalls.Path.Bulk, SmallCalls.Path.Default], Arg("--size", 100));
}

var mib = Arg("--mib", 256);
var runs = Arg("--runs", 3);
var parallel = Arg("--parallel", 8);

var root = Directory.CreateTempSubdirectory("dinomesh-load-chunks-").FullName;
try
{
    var admission = new SetAdmission();
    await using var holder = new BenchNode(root, "holder", admission);
    await using var reader = new BenchNode(root, "reader", admission);
    await holder.StartAsync();
    await reader.StartAsync();
    var live = new[] { holder.Peer, reader.Peer };

    var ids = new List<ChunkId>();
    var random = new Random(42);
    var buffer = new byte[1 << 20];
    for (var i = 0; i < mib; i++)
    {
        random.NextBytes(buffer);
        ids.Add(holder.Store.Put(buffer).Id);
    }
    Console.WriteLine($"{mib} chunks of 1 MiB on the holder; {Environment.ProcessorCount} cores; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

    var rows = new List<(string Name, double MibPerSecond)>
    {
        ("local verified read (ChunkStore.Read, 1 thread)", Median(runs, () => Measure(mib, () =>
        {
            foreach (var id in ids) holder.Store.ReadAll(id);
            return Task.CompletedTask;
        }))),
        ("fetch + verify, 1 in flight", Median(runs, () => Measure(mib, () => FetchAll(reader, live, ids, 1, import: false)))),
        ($"fetch + verify, {parallel} in flight", Median(runs, () => Measure(mib, () => FetchAll(reader, live, ids, parallel, import: false)))),
        ($"fetch + verify + import to disk, {parallel} in flight", Median(runs, () => Measure(mib, () => FetchAll(reader, live, ids, parallel, import: true)))),
        ("push to a placement node (R=2), verify + import there", Median(runs, () => Measure(mib, () => PushAll(holder, reader, live, ids)))),
    };
    foreach (var (name, rate) in rows) Console.WriteLine($"{name,-58} {rate,8:F0} MiB/s");

    // Round trips: one get at a time of a small and of a full chunk, to tell per-call latency from transfer cost.
    foreach (var size in new[] { 4096, 1 << 20 })
    {
        random.NextBytes(buffer);
        var id = holder.Store.Put(buffer.AsSpan(0, size)).Id;
        var fetcher = new ChunkFetcher(reader.Network, new StaticCluster(reader.Identity.PeerId, live), new ChunkLocations(), new ChunkOptions(), TimeProvider.System, NullLogger.Instance);
        var times = new List<double>();
        for (var i = 0; i < 30; i++)
        {
            var started = Stopwatch.GetTimestamp();
            if (!(await fetcher.FetchAsync(id, CancellationToken.None)).Ok) throw new InvalidOperationException("fetch failed");
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        times.Sort();
        Console.WriteLine($"{$"one get of {size / 1024} KiB: median round trip",-58} {times[times.Count / 2],8:F2} ms");
    }
}
finally
{
    Directory.Delete(root, recursive: true);
}
return 0;

static async Task FetchAll(BenchNode reader, IReadOnlyList<ChunkPeer> live, List<ChunkId> ids, int inFlight, bool import)
{
    foreach (var id in ids) reader.Store.Delete(id);
    var fetcher = new ChunkFetcher(reader.Network, new StaticCluster(reader.Identity.PeerId, live), new ChunkLocations(),
        new ChunkOptions { MaxFetches = inFlight, MaxFetchesPerPeer = inFlight }, TimeProvider.System, NullLogger.Instance);
    using var slots = new SemaphoreSlim(inFlight);
    var tasks = ids.Select(async id =>
    {
        await slots.WaitAsync();
        try
        {
            var fetched = await fetcher.FetchAsync(id, CancellationToken.None);
            if (fetched.Chunk is not { } chunk) throw new InvalidOperationException($"fetch failed: {fetched.Detail}");
            if (import) reader.Store.Import(chunk);
        }
        finally
        {
            slots.Release();
        }
    });
    await Task.WhenAll(tasks);
}

static async Task PushAll(BenchNode holder, BenchNode reader, IReadOnlyList<ChunkPeer> live, List<ChunkId> ids)
{
    foreach (var id in ids) reader.Store.Delete(id);
    // R=2 over two nodes: every chunk must reach the other one.
    var replicator = new ChunkReplicator(holder.Network, new StaticCluster(holder.Identity.PeerId, live), holder.Local, new ChunkLocations(),
        new ChunkOptions { Replicas = 2 }, NullLogger.Instance);
    if (!await replicator.ReplicateAsync(ids, CancellationToken.None)) throw new InvalidOperationException("replication failed");
}

static double Measure(int mib, Func<Task> run)
{
    var started = Stopwatch.GetTimestamp();
    run().GetAwaiter().GetResult();
    return mib / Stopwatch.GetElapsedTime(started).TotalSeconds;
}

static double Median(int runs, Func<double> measure)
{
    var results = Enumerable.Range(0, runs).Select(_ => measure()).Order().ToList();
    return results[results.Count / 2];
}

int Arg(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}
