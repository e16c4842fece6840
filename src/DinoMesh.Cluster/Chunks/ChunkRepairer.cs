using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Repair by pulling: every node makes sure it holds the referenced chunks it is a placement node for, over the live
/// members. When a member dies (or is removed), the chunks it held get new placement nodes among the survivors, which
/// find them missing here and fetch them from whoever still has a copy — so every chunk is back at R copies without any
/// node having to know who held what. A chunk quarantined as corrupt is missing too, and comes back the same way. So is
/// a new chunk whose writer is not one of its placement nodes: the writer's copy counted as one of the R at the commit
/// (<see cref="ChunkReplicator"/>), and the placement node left out pulls the chunk at its next scan, off the write path.
/// Copying is rate-limited (<see cref="ChunkOptions.RepairBytesPerSecond"/>) so foreground reads stay fast. A pulled
/// chunk that finds the disk full asks the room (the cache: chunks held here beyond duty) and is tried again
/// (<see cref="ChunkRoom.WriteAsync"/>): a copy this node owes comes before one it only caches.
/// </summary>
public sealed class ChunkRepairer
{
    private readonly IChunkSource _source;
    private readonly ILocalChunks _store;
    private readonly ChunkInventory _inventory;
    private readonly IChunkCluster _cluster;
    private readonly Func<FileSystemState> _state;
    private readonly ChunkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IChunkRoom? _room;
    private readonly Lock _gate = new();
    private readonly Queue<ChunkId> _queue = new();
    private readonly HashSet<ChunkId> _queued = [];
    private int _running;
    private long _repaired, _repairedBytes, _failed;

    public ChunkRepairer(IChunkSource source, ILocalChunks store, ChunkInventory inventory, IChunkCluster cluster, Func<FileSystemState> state,
        ChunkOptions options, TimeProvider time, ILogger logger, IChunkRoom? room = null)
    {
        _room = room;
        _source = source;
        _store = store;
        _inventory = inventory;
        _cluster = cluster;
        _state = state;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>Chunks waiting to be copied here, and being copied now.</summary>
    public int Queued
    {
        get { lock (_gate) return _queue.Count + _running; }
    }

    /// <summary>Chunks copied here by repair and their bytes; attempts that found no copy anywhere.</summary>
    public (long Chunks, long Bytes, long Failed) Counters =>
        (Interlocked.Read(ref _repaired), Interlocked.Read(ref _repairedBytes), Interlocked.Read(ref _failed));

    /// <summary>Queues every referenced chunk this node should hold and lacks; returns how many are waiting.</summary>
    public int Scan()
    {
        if (!_inventory.Loaded) return Queued;
        var live = _cluster.Live();
        var replicas = ChunkPlacement.Effective(_options.Replicas, live.Count);
        var self = _cluster.Self;
        var missing = new List<ChunkId>();
        foreach (var id in _state().ChunkRefs.Keys)
        {
            if (!_inventory.Contains(id) && ChunkPlacement.IsPlacedOn(id, self, live, replicas)) missing.Add(id);
        }
        lock (_gate)
        {
            foreach (var id in missing)
            {
                if (_queued.Add(id)) _queue.Enqueue(id);
            }
            return _queue.Count + _running;
        }
    }

    /// <summary>Copies the queued chunks here, a few at a time and within the byte rate; returns how many were repaired.</summary>
    public async Task<int> RepairQueuedAsync(CancellationToken ct)
    {
        var repaired = 0;
        var workers = Enumerable.Range(0, Math.Max(1, _options.ParallelRepairs)).Select(async _ =>
        {
            while (!ct.IsCancellationRequested && Next() is { } id)
            {
                var started = _time.GetTimestamp();
                long bytes = 0;
                try
                {
                    bytes = await RepairAsync(id, ct).ConfigureAwait(false);
                    if (bytes > 0) Interlocked.Increment(ref repaired);
                }
                finally
                {
                    lock (_gate)
                    {
                        _running--;
                        _queued.Remove(id);
                    }
                }
                await PaceAsync(bytes, started, ct).ConfigureAwait(false);
            }
        });
        try
        {
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping: what is left stays queued for the next start's scan.
        }
        return repaired;
    }

    private ChunkId? Next()
    {
        lock (_gate)
        {
            if (!_queue.TryDequeue(out var id)) return null;
            _running++;
            return id;
        }
    }

    /// <summary>Fetches one chunk (if it is still referenced and still missing) and stores it; the bytes copied, 0 if none.</summary>
    private async Task<long> RepairAsync(ChunkId id, CancellationToken ct)
    {
        if (_inventory.Contains(id) || !_state().ChunkRefs.ContainsKey(id)) return 0;
        var fetched = await _source.FetchAsync(id, ct).ConfigureAwait(false);
        if (fetched.Chunk is not { } chunk)
        {
            Interlocked.Increment(ref _failed);
            _logger.LogWarning("repair: no copy of chunk {Chunk} could be fetched ({Status}: {Detail}); the next scan tries again", id, fetched.Status, fetched.Detail);
            return 0;
        }
        _inventory.Added(id, chunk.Length);
        LocalWrite stored;
        try
        {
            // While the cache evicts (the disk is full) the worker awaits it, at most the room's deadline per ask, and
            // holds no pool thread meanwhile.
            stored = await ChunkRoom.WriteAsync(_room, chunk.Length, _ => _store.Import(chunk), static s => s == LocalWrite.NoSpace, ct).ConfigureAwait(false);
        }
        finally
        {
            // The bytes are on disk (or not kept): the buffer they were received into goes back.
            fetched.Lease?.Release();
        }
        if (stored is not (LocalWrite.Stored or LocalWrite.AlreadyPresent))
        {
            _inventory.Lost(id);
            Interlocked.Increment(ref _failed);
            _logger.LogWarning("repair: chunk {Chunk} could not be stored here: {Status}", id, stored);
            return 0;
        }
        Interlocked.Increment(ref _repaired);
        Interlocked.Add(ref _repairedBytes, chunk.Length);
        return chunk.Length;
    }

    /// <summary>Sleeps so that this worker's copying stays within its share of the byte rate.</summary>
    private async Task PaceAsync(long bytes, long started, CancellationToken ct)
    {
        if (bytes == 0 || _options.RepairBytesPerSecond <= 0) return;
        var share = (double)_options.RepairBytesPerSecond / Math.Max(1, _options.ParallelRepairs);
        var due = TimeSpan.FromSeconds(bytes / share) - _time.GetElapsedTime(started);
        if (due > TimeSpan.Zero) await Task.Delay(due, _time, ct).ConfigureAwait(false);
    }
}
