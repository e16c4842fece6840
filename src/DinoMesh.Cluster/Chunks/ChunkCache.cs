using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Bounds the chunks this node keeps beyond its placement duty — chunks it wrote for files placed elsewhere, and chunks
/// it fetched to read — to <see cref="ChunkOptions.CacheBytes"/>. Over the bound, the least recently used go first, and
/// only once every placement node of the chunk confirms it holds a copy, so eviction never takes a chunk below R copies.
/// That rule is also what keeps a writer's own copy while it is one of the R: a writer pushes a new chunk to R - 1
/// others only (<see cref="ChunkReplicator"/>), so where the writer is not a placement node, one placement node lacks
/// the chunk until its repair scan pulls it, and until then the writer's copy is never evicted. Runs in the background: a full cache never makes a write wait. Chunks no committed state references are not cache
/// (garbage collection owns them), nor are staged ones.
/// </summary>
public sealed class ChunkCache
{
    private const int Batch = 256;

    private readonly ChunkInventory _inventory;
    private readonly ILocalChunks _store;
    private readonly IChunkNetwork _network;
    private readonly IChunkCluster _cluster;
    private readonly Func<FileSystemState> _state;
    private readonly Func<IReadOnlySet<ChunkId>> _staged;
    private readonly ChunkOptions _options;
    private readonly ILogger _logger;
    private long _evicted, _evictedBytes;

    public ChunkCache(ChunkInventory inventory, ILocalChunks store, IChunkNetwork network, IChunkCluster cluster, Func<FileSystemState> state,
        Func<IReadOnlySet<ChunkId>> staged, ChunkOptions options, ILogger logger)
    {
        _inventory = inventory;
        _store = store;
        _network = network;
        _cluster = cluster;
        _state = state;
        _staged = staged;
        _options = options;
        _logger = logger;
    }

    /// <summary>Chunks evicted and their bytes, since start.</summary>
    public (long Chunks, long Bytes) Evicted => (Interlocked.Read(ref _evicted), Interlocked.Read(ref _evictedBytes));

    /// <summary>Evicts least recently used cached chunks until the cache fits its bound; returns the bytes freed.</summary>
    public async Task<long> EvictAsync(CancellationToken ct)
    {
        if (!_inventory.Loaded) return 0;
        var live = _cluster.Live();
        if (live.Count <= 1) return 0;
        var replicas = ChunkPlacement.Effective(_options.Replicas, live.Count);
        var self = _cluster.Self;
        var state = _state();
        var staged = _staged();
        var cached = new List<(ChunkId Id, ChunkInventory.Entry Entry)>();
        long total = 0;
        foreach (var (id, entry) in _inventory.All())
        {
            if (!state.ChunkRefs.ContainsKey(id) || staged.Contains(id) || ChunkPlacement.IsPlacedOn(id, self, live, replicas)) continue;
            cached.Add((id, entry));
            total += entry.Length;
        }
        var excess = total - _options.CacheBytes;
        if (excess <= 0) return 0;
        cached.Sort((a, b) => Volatile.Read(ref a.Entry.UsedNs).CompareTo(Volatile.Read(ref b.Entry.UsedNs)));
        long freed = 0;
        for (var at = 0; at < cached.Count && freed < excess; at += Batch)
        {
            var batch = cached.GetRange(at, Math.Min(Batch, cached.Count - at));
            var confirmed = await ConfirmedElsewhereAsync(batch.Select(c => c.Id).ToList(), live, replicas, ct);
            foreach (var (id, entry) in batch)
            {
                if (freed >= excess) break;
                if (!confirmed.Contains(id)) continue;
                var usedAt = Volatile.Read(ref entry.UsedNs);
                // Not if it was read again meanwhile, or became this node's to hold.
                if (_inventory.TryDelete(id, e => Volatile.Read(ref e.UsedNs) == usedAt && !ChunkPlacement.IsPlacedOn(id, self, _cluster.Live(), replicas), _store))
                {
                    freed += entry.Length;
                    Interlocked.Increment(ref _evicted);
                    Interlocked.Add(ref _evictedBytes, entry.Length);
                }
            }
        }
        if (freed > 0) _logger.LogInformation("cache: evicted {Bytes} bytes of chunks held by their placement nodes (cache bound {Bound})", freed, _options.CacheBytes);
        return freed;
    }

    /// <summary>The chunks of <paramref name="ids"/> that every one of their placement nodes says it holds.</summary>
    private async Task<HashSet<ChunkId>> ConfirmedElsewhereAsync(List<ChunkId> ids, IReadOnlyList<ChunkPeer> live, int replicas, CancellationToken ct)
    {
        var asks = new Dictionary<PeerId, (ChunkPeer Peer, List<ChunkId> Ids)>();
        var needed = new Dictionary<ChunkId, int>();
        foreach (var id in ids)
        {
            var placement = ChunkPlacement.For(id, live, replicas);
            needed[id] = placement.Length;
            foreach (var p in placement)
            {
                if (!asks.TryGetValue(p.Id, out var ask)) asks[p.Id] = ask = (p, []);
                ask.Ids.Add(id);
            }
        }
        var confirmations = new Dictionary<ChunkId, int>();
        var calls = asks.Values.Select(async ask =>
            (ask.Ids, Call: await _network.CallAsync(ask.Peer, new HasChunks([.. ask.Ids]), _options.QueryDeadline, ct)));
        foreach (var (asked, call) in await Task.WhenAll(calls))
        {
            if (call.Answer is not HasAnswer answer || answer.Held.Length != asked.Count) continue;
            for (var i = 0; i < asked.Count; i++)
            {
                if (answer.Held[i]) confirmations[asked[i]] = confirmations.GetValueOrDefault(asked[i]) + 1;
            }
        }
        return [.. needed.Where(n => n.Value > 0 && confirmations.GetValueOrDefault(n.Key) >= n.Value).Select(n => n.Key)];
    }
}
