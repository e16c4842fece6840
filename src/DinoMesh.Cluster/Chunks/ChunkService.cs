using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// The chunk layer of a node, assembled: the server peers fetch from, the fetcher the volume reads through, the
/// replicator its commits wait for, and the background work — repair (pull what this node should hold), garbage
/// collection and cache eviction — with the counts `status` and `peers` show. The node feeds it applied mutations
/// (<see cref="OnApplied"/>) and what its writers store (<see cref="OnStored"/>).
/// </summary>
public sealed class ChunkService : IAsyncDisposable
{
    private readonly ILocalChunks _store;
    private readonly IChunkNetwork _network;
    private readonly IChunkCluster _cluster;
    private readonly Func<FileSystemState> _state;
    private readonly ChunkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Func<IReadOnlySet<ChunkId>> _staged = static () => new HashSet<ChunkId>();
    private (long AtMs, UsageAnswer Usage, long Missing)? _lastCount;
    private Task _loops = Task.CompletedTask;
    private volatile bool _membersChanged;

    public ChunkService(ILocalChunks store, IChunkNetwork network, IChunkCluster cluster, Func<FileSystemState> state, ChunkOptions options,
        TimeProvider time, ILoggerFactory loggers, BufferPool? buffers = null)
    {
        _store = store;
        _network = network;
        _cluster = cluster;
        _state = state;
        _options = options;
        _time = time;
        _logger = loggers.CreateLogger("chunks");
        Inventory = new ChunkInventory(time);
        Locations = new ChunkLocations();
        Cache = new ChunkCache(Inventory, store, network, cluster, state, () => _staged(), options, _logger);
        Room = new CacheRoom(Cache, _logger);
        Server = new ChunkServer(store, Inventory, Usage, _logger, buffers: buffers, room: Room);
        Fetcher = new ChunkFetcher(network, cluster, Locations, options, time, _logger);
        Replicator = new ChunkReplicator(network, cluster, store, Locations, options, _logger);
        Collector = new ChunkCollector(Inventory, store, state, () => _staged(), options, _logger);
        Repairer = new ChunkRepairer(Fetcher, store, Inventory, cluster, state, options, time, _logger, Room);
        PeerUsage = new PeerUsagePoll(network, cluster, options, time, _logger);
    }

    public ChunkOptions Options => _options;
    public ChunkInventory Inventory { get; }
    public ChunkLocations Locations { get; }
    public ChunkServer Server { get; }
    public ChunkFetcher Fetcher { get; }
    public ChunkReplicator Replicator { get; }
    public ChunkCollector Collector { get; }
    public ChunkRepairer Repairer { get; }
    public ChunkCache Cache { get; }

    /// <summary>
    /// Room the cache makes for a chunk writer that found the disk full (the volume's stores and imports, repair, a
    /// chunk a peer pushes here, fallocate), and what it could make (statfs counts it as free).
    /// </summary>
    public IChunkRoom Room { get; }
    public PeerUsagePoll PeerUsage { get; }

    /// <summary>
    /// Loads the inventory from the store (in the background) and starts repair, collection, eviction and usage
    /// polling. <paramref name="staged"/> lists the chunks of extents staged for commit (never collected).
    /// </summary>
    public void Start(Func<IReadOnlySet<ChunkId>> staged)
    {
        _staged = staged;
        var ct = _stopping.Token;
        _loops = Task.Run(async () =>
        {
            try
            {
                Inventory.Load(_store.Inventory());
                _logger.LogInformation("chunks: {Count} held ({Bytes} bytes); replicas {Replicas}, cache bound {Cache} bytes, collection grace {Grace}",
                    Inventory.Count, Inventory.Bytes, _options.Replicas, _options.CacheBytes, _options.GcGrace);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Without an inventory nothing is collected, evicted or repaired; serving and fetching still work.
                _logger.LogError("chunks: cannot list the store ({Error}); collection, eviction and repair are off", e.Message);
                return;
            }
            await Task.WhenAll(RepairLoopAsync(ct), SweepLoopAsync(ct), PeerUsage.RunAsync(ct));
        }, ct);
    }

    /// <summary>A committed entry was applied here: remember who proposed new chunks, start grace periods, notice member changes.</summary>
    public void OnApplied(Mutation mutation, ApplyResult result)
    {
        var effect = result.Effect;
        foreach (var id in effect.AddedChunks) Locations.Proposed(id, effect.Proposer);
        if (effect.FreedChunks.Count > 0) Collector.Freed(effect.FreedChunks);
        if (effect.MembersChanged) _membersChanged = true;
    }

    /// <summary>
    /// A writer of this node stored a chunk (its bytes valid during the call, or lent: see <see cref="ChunkReplicator.Offer"/>):
    /// in use, and on its way to its copies.
    /// </summary>
    public void OnStored(ChunkId id, ReadOnlySpan<byte> bytes, LendableBytes? lendable = null)
    {
        Inventory.Storing(id, bytes.Length);
        Replicator.Offer(id, bytes, lendable);
    }

    /// <summary>The volume imported a fetched chunk.</summary>
    public void OnImported(ChunkId id, long length) => Inventory.Added(id, length);

    /// <summary>A read found the local copy missing or corrupt.</summary>
    public void OnLost(ChunkId id)
    {
        Inventory.Lost(id);
        _membersChanged = true; // wakes repair, which pulls the chunk back if this node is one of its placement nodes
    }

    /// <summary>A reader used the chunk (least recently used chunks leave the cache first).</summary>
    public void OnUsed(ChunkId id) => Inventory.Used(id);

    /// <summary>What a member last reported storing (null if it has not answered yet); this node's own figure is current.</summary>
    public UsageAnswer? UsageOf(PeerId peer)
    {
        if (peer == _cluster.Self) return Usage();
        return PeerUsage.Of(peer);
    }

    public ChunkStatus Status()
    {
        var live = _cluster.Live();
        var (usage, missing) = Count();
        var (fetched, fetchedBytes, bad) = Fetcher.Counters;
        var (pushed, pushedBytes) = Replicator.Counters;
        var (served, servedBytes, _, _) = Server.Counters;
        var (repaired, repairedBytes, _) = Repairer.Counters;
        var (collected, collectedBytes) = Collector.Collected;
        var (evicted, evictedBytes) = Cache.Evicted;
        var (forSpace, forSpaceBytes) = Cache.EvictedForSpace;
        return new ChunkStatus(
            ChunkPlacement.Effective(_options.Replicas, live.Count), live.Count,
            usage.PlacementChunks, usage.PlacementBytes, usage.CachedChunks, usage.CachedBytes, _options.CacheBytes,
            usage.UnreferencedChunks, usage.UnreferencedBytes, _options.GcGrace.TotalSeconds,
            missing, Repairer.Queued, repaired, repairedBytes, collected, collectedBytes, evicted, evictedBytes,
            fetched, fetchedBytes, bad, pushed, pushedBytes, served, servedBytes,
            forSpace, forSpaceBytes, Cache.Reserve()?.Reserve, Cache.Evictable);
    }

    /// <summary>This node's held bytes by kind (what a peer's usage query gets).</summary>
    public UsageAnswer Usage() => Count().Usage;

    /// <summary>Classifies every held chunk (placement, cached, unreferenced) and counts referenced placement chunks missing here; memoised for a second.</summary>
    private (UsageAnswer Usage, long Missing) Count()
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_lastCount is { } last && now - last.AtMs < 1000) return (last.Usage, last.Missing);
        var live = _cluster.Live();
        var replicas = ChunkPlacement.Effective(_options.Replicas, live.Count);
        var self = _cluster.Self;
        var refs = _state().ChunkRefs;
        long pc = 0, pb = 0, cc = 0, cb = 0, uc = 0, ub = 0;
        foreach (var (id, entry) in Inventory.All())
        {
            if (!refs.ContainsKey(id)) (uc, ub) = (uc + 1, ub + entry.Length);
            else if (ChunkPlacement.IsPlacedOn(id, self, live, replicas)) (pc, pb) = (pc + 1, pb + entry.Length);
            else (cc, cb) = (cc + 1, cb + entry.Length);
        }
        long missing = 0;
        if (Inventory.Loaded)
        {
            foreach (var id in refs.Keys)
            {
                if (!Inventory.Contains(id) && ChunkPlacement.IsPlacedOn(id, self, live, replicas)) missing++;
            }
        }
        var usage = new UsageAnswer(pc, pb, cc, cb, uc, ub);
        _lastCount = (now, usage, missing);
        return (usage, missing);
    }

    private async Task RepairLoopAsync(CancellationToken ct)
    {
        var lastScan = long.MinValue;
        var lastLive = "";
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var live = string.Join(",", _cluster.Live().Select(p => p.Id.Hex).Order(StringComparer.Ordinal));
                var due = _time.GetElapsedTime(lastScan) >= _options.RepairInterval || lastScan == long.MinValue;
                if (due || live != lastLive || _membersChanged)
                {
                    _membersChanged = false;
                    lastLive = live;
                    lastScan = _time.GetTimestamp();
                    if (Repairer.Scan() > 0) await Repairer.RepairQueuedAsync(ct);
                }
                await Task.Delay(TimeSpan.FromSeconds(1), _time, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogError(e, "chunk repair round failed");
                await Delay(ct);
            }
        }
    }

    private async Task SweepLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.SweepEvery, _time, ct);
                await Task.Run(Collector.Sweep, ct);
                // Evicts, then counts what is left to give up (statfs and fallocate count it as free), from one walk.
                await Cache.SweepAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogError(e, "chunk sweep failed");
                await Delay(ct);
            }
        }
    }

    private async Task Delay(CancellationToken ct)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(5), _time, ct);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            await _loops;
        }
        catch (OperationCanceledException)
        {
            // Stopped before the loops began.
        }
        _stopping.Dispose();
    }
}
