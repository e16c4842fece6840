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
/// the chunk until its repair scan pulls it, and until then the writer's copy is never evicted. Chunks no committed
/// state references are not cache (garbage collection owns them), nor are staged ones.
/// <para>The cache is also the first thing given up when the chunk disk fills: the sweep evicts (by the same rule)
/// while the disk has less than <see cref="ChunkOptions.FreeSpaceReserve"/> free, and a user's write that hits ENOSPC
/// asks <see cref="MakeRoomAsync"/> to evict at once before it fails. A full cache never makes a write wait otherwise.</para>
/// <para>Since that space is a write's for the asking, statfs and fallocate count it as free: <see cref="Evictable"/>,
/// the bytes of cached chunks every placement node confirmed holding, counted after each sweep
/// (<see cref="CountEvictableAsync"/>) and lowered at once by what is evicted.</para>
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
    // One eviction for room at a time: writers that hit ENOSPC together wait for the first one's and then retry.
    private readonly SemaphoreSlim _roomGate = new(1, 1);
    private long _evicted, _evictedBytes, _forSpace, _forSpaceBytes;
    // Bytes the writes in MakeRoomAsync (waiting or evicting) need, together.
    private long _roomWanted;
    // Said once per stretch of a disk short of its reserve with nothing to give up, not at every sweep.
    private volatile bool _saidNothingToGive;
    // After a look for room that found nothing to give up, writes that come within a second are told so at once: on a
    // disk full of chunks placed here every write and every fetched chunk would otherwise walk the inventory and ask
    // the placement nodes again.
    private long _fruitlessUntilNs = long.MinValue;
    private static readonly long FruitlessForNs = 1_000_000_000L;
    // The cached chunks every placement node confirmed at the last count, over which members (a change of the live
    // members moves placement, so the count starts afresh), and when the whole set was last asked again; replaced whole
    // by each count, only read between counts.
    private volatile HashSet<ChunkId> _confirmed = [];
    private string _confirmedOver = "";
    private long _confirmedAllAtNs = long.MinValue;
    private long _evictable;
    // Everything is asked again this often: a placement node can lose a copy it once confirmed (a disk, a quarantine).
    private static readonly long ConfirmAllEveryNs = 10L * 60 * 1_000_000_000;

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

    public ChunkOptions Options => _options;

    /// <summary>Chunks evicted and their bytes, since start (for the bound and for space alike).</summary>
    public (long Chunks, long Bytes) Evicted => (Interlocked.Read(ref _evicted), Interlocked.Read(ref _evictedBytes));

    /// <summary>Of <see cref="Evicted"/>, those evicted because the chunk disk was short of space (its reserve, or a write's ENOSPC).</summary>
    public (long Chunks, long Bytes) EvictedForSpace => (Interlocked.Read(ref _forSpace), Interlocked.Read(ref _forSpaceBytes));

    /// <summary>
    /// Bytes of cached chunks every placement node confirmed holding at the last count (<see cref="CountEvictableAsync"/>),
    /// less what was evicted since: what the cache could give up now. Chunks cached since the count are not in it yet.
    /// </summary>
    public long Evictable => Math.Max(0, Interlocked.Read(ref _evictable));

    /// <summary>
    /// Counts <see cref="Evictable"/> afresh: the cached chunks not confirmed at the last count (all of them when the
    /// live members changed, or every ten minutes) are asked of their placement nodes, one has-query per placement node
    /// per 256 chunks; the confirmed ones still cached make up the count. Run by the sweep after its eviction.
    /// </summary>
    public Task<long> CountEvictableAsync(CancellationToken ct) => CountEvictableAsync(_inventory.Loaded ? Cached() : null, ct);

    /// <summary>
    /// The sweep's work on the cache: <see cref="EvictAsync"/>, then <see cref="CountEvictableAsync"/> over the same walk
    /// of the inventory (the chunks evicted meanwhile are skipped by the count), which is most of the cost of each.
    /// </summary>
    public async Task<(long Freed, long Evictable)> SweepAsync(CancellationToken ct)
    {
        var cached = _inventory.Loaded ? Cached() : null;
        var freed = cached is null ? 0 : await EvictAsync(cached, ct).ConfigureAwait(false);
        return (freed, await CountEvictableAsync(cached, ct).ConfigureAwait(false));
    }

    private async Task<long> CountEvictableAsync(CachedChunks? cached, CancellationToken ct)
    {
        if (cached is null)
        {
            _confirmed = [];
            Interlocked.Exchange(ref _evictable, 0);
            return 0;
        }
        var over = cached.Replicas + ":" + string.Join(",", cached.Live.Select(p => p.Id.Hex).Order(StringComparer.Ordinal));
        var now = _inventory.NowNs;
        var fresh = over != _confirmedOver || now - _confirmedAllAtNs >= ConfirmAllEveryNs;
        HashSet<ChunkId> known = fresh ? [] : _confirmed;
        var unknown = cached.Chunks.Where(c => !known.Contains(c.Id)).Select(c => c.Id).ToList();
        var confirmed = new HashSet<ChunkId>();
        for (var at = 0; at < unknown.Count; at += Batch)
        {
            confirmed.UnionWith(await ConfirmedElsewhereAsync(unknown.GetRange(at, Math.Min(Batch, unknown.Count - at)), cached.Live, cached.Replicas, ct)
                .ConfigureAwait(false));
        }
        long bytes = 0;
        foreach (var (id, entry) in cached.Chunks)
        {
            if (!known.Contains(id) && !confirmed.Contains(id)) continue;
            // Evicted while the placement nodes were asked: no longer here to give up.
            if (!_inventory.Contains(id)) continue;
            confirmed.Add(id);
            bytes += entry.Length;
        }
        _confirmed = confirmed;
        _confirmedOver = over;
        if (fresh) _confirmedAllAtNs = now;
        Interlocked.Exchange(ref _evictable, bytes);
        return bytes;
    }

    /// <summary>The free space the cache keeps on the chunk disk now, and what is free; null when the disk's size is unknown.</summary>
    public (long Reserve, long Free)? Reserve()
    {
        if (_options.FreeSpaceReserve is 0 || _store.Capacity() is not { } disk) return null;
        return (_options.FreeSpaceReserve ?? ChunkDiskReserve.For(disk.Total), disk.Free);
    }

    /// <summary>
    /// Evicts least recently used cached chunks until the cache fits its bound and the chunk disk has its reserve free
    /// (or nothing more may go); returns the bytes freed.
    /// </summary>
    public async Task<long> EvictAsync(CancellationToken ct) =>
        _inventory.Loaded && Cached() is { } cached ? await EvictAsync(cached, ct).ConfigureAwait(false) : 0;

    private async Task<long> EvictAsync(CachedChunks cached, CancellationToken ct)
    {
        var overBound = cached.Bytes - _options.CacheBytes;
        var reserve = Reserve();
        var shortOfReserve = reserve is { } r ? r.Reserve - r.Free : 0;
        if (shortOfReserve <= 0) _saidNothingToGive = false;
        if (overBound <= 0 && shortOfReserve <= 0) return 0;
        var forSpace = shortOfReserve > overBound;
        var (chunks, freed) = await EvictLeastRecentlyUsedAsync(cached, Math.Max(overBound, shortOfReserve), ct);
        if (forSpace)
        {
            Counted(chunks, freed, forSpace: true);
            SayEvictedForSpace("the chunk disk is under its free-space reserve", chunks, freed, reserve!.Value);
        }
        else
        {
            Counted(chunks, freed, forSpace: false);
            if (freed > 0) _logger.LogInformation("cache: evicted {Chunks} chunks ({Bytes} bytes) held by their placement nodes (cache bound {Bound})", chunks, freed, _options.CacheBytes);
        }
        return freed;
    }

    /// <summary>
    /// A write found the chunk disk full: evicts least recently used cached chunks now (by the same rule as the sweep)
    /// until <paramref name="bytes"/> are freed (with what the writes waiting beside it need), and on to the reserve when
    /// the disk is that far short of it, so the writes that follow do not each find it full. True when room was made (by
    /// this call, or by another while this one waited for it): the write should try once more. <paramref name="ct"/> is the write's deadline; what was
    /// evicted before it passed stays evicted.
    /// </summary>
    public async Task<bool> MakeRoomAsync(long bytes, CancellationToken ct)
    {
        var before = Interlocked.Read(ref _forSpaceBytes);
        Interlocked.Add(ref _roomWanted, bytes);
        try
        {
            await _roomGate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                // What every write waiting here needs: writers that hit ENOSPC together (a file's seal workers, a read's
                // fetches) each need room of their own, and the first eviction makes it for all of them.
                var wanted = Interlocked.Read(ref _roomWanted);
                var disk = _store.Capacity();
                var free = disk?.Free ?? 0;
                // Another write's eviction (or the sweep's) made room while this one waited, enough for every waiter.
                if (Interlocked.Read(ref _forSpaceBytes) != before && (disk is null || free >= wanted)) return true;
                if (_inventory.NowNs < Volatile.Read(ref _fruitlessUntilNs)) return false;
                if (!_inventory.Loaded || Cached() is not { } cached) return false;
                var reserve = Reserve();
                var target = Math.Max(Math.Max(bytes, wanted - free), reserve is { } r ? r.Reserve - r.Free : 0);
                var (chunks, freed) = await EvictLeastRecentlyUsedAsync(cached, target, ct).ConfigureAwait(false);
                Counted(chunks, freed, forSpace: true);
                SayEvictedForSpace("a write found the chunk disk full", chunks, freed, reserve ?? (0, free));
                if (freed == 0 && !ct.IsCancellationRequested) Volatile.Write(ref _fruitlessUntilNs, _inventory.NowNs + FruitlessForNs);
                return freed > 0;
            }
            finally
            {
                _roomGate.Release();
            }
        }
        finally
        {
            Interlocked.Add(ref _roomWanted, -bytes);
        }
    }

    /// <summary>One line per episode: what was given up, or (once until the disk recovers) that nothing could be.</summary>
    private void SayEvictedForSpace(string why, long chunks, long freed, (long Reserve, long Free) reserve)
    {
        if (freed > 0)
        {
            _saidNothingToGive = false;
            _logger.LogInformation("cache: {Cause} ({Free} bytes free, reserve {Reserve}); evicted {Chunks} cached chunks ({Bytes} bytes) held by their placement nodes",
                why, reserve.Free, reserve.Reserve, chunks, freed);
        }
        else if (!_saidNothingToGive)
        {
            _saidNothingToGive = true;
            _logger.LogWarning("cache: {Cause} ({Free} bytes free, reserve {Reserve}); no cached chunk can be given up (each is placed here, staged, or not yet confirmed by its placement nodes)",
                why, reserve.Free, reserve.Reserve);
        }
    }

    private void Counted(long chunks, long bytes, bool forSpace)
    {
        if (chunks == 0) return;
        Interlocked.Add(ref _evicted, chunks);
        Interlocked.Add(ref _evictedBytes, bytes);
        if (!forSpace) return;
        Interlocked.Add(ref _forSpace, chunks);
        Interlocked.Add(ref _forSpaceBytes, bytes);
    }

    /// <summary>The cache as it stands: chunks referenced, not staged and not placed here; null when there is no one else to hold them.</summary>
    private CachedChunks? Cached()
    {
        var live = _cluster.Live();
        if (live.Count <= 1) return null;
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
        return new CachedChunks(cached, total, live, replicas);
    }

    private sealed record CachedChunks(List<(ChunkId Id, ChunkInventory.Entry Entry)> Chunks, long Bytes, IReadOnlyList<ChunkPeer> Live, int Replicas);

    /// <summary>
    /// Deletes the least recently used of <paramref name="cached"/> whose placement nodes all confirm a copy, until
    /// <paramref name="excess"/> bytes are freed; stops early (keeping what it did) when <paramref name="ct"/> ends.
    /// </summary>
    private async Task<(long Chunks, long Bytes)> EvictLeastRecentlyUsedAsync(CachedChunks cached, long excess, CancellationToken ct)
    {
        var (list, live, replicas) = (cached.Chunks, cached.Live, cached.Replicas);
        var self = _cluster.Self;
        list.Sort((a, b) => Volatile.Read(ref a.Entry.UsedNs).CompareTo(Volatile.Read(ref b.Entry.UsedNs)));
        long freed = 0, chunks = 0;
        for (var at = 0; at < list.Count && freed < excess && !ct.IsCancellationRequested; at += Batch)
        {
            var batch = list.GetRange(at, Math.Min(Batch, list.Count - at));
            HashSet<ChunkId> confirmed;
            try
            {
                confirmed = await ConfirmedElsewhereAsync(batch.Select(c => c.Id).ToList(), live, replicas, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            foreach (var (id, entry) in batch)
            {
                if (freed >= excess) break;
                if (!confirmed.Contains(id)) continue;
                var usedAt = Volatile.Read(ref entry.UsedNs);
                // Not if it was read again meanwhile, or became this node's to hold.
                if (_inventory.TryDelete(id, e => Volatile.Read(ref e.UsedNs) == usedAt && !ChunkPlacement.IsPlacedOn(id, self, _cluster.Live(), replicas), _store))
                {
                    freed += entry.Length;
                    chunks++;
                    // Counted as evictable: now free on the disk instead, so statfs does not count it twice.
                    if (_confirmed.Contains(id)) Interlocked.Add(ref _evictable, -entry.Length);
                }
            }
        }
        return (chunks, freed);
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
