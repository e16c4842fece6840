using System.Collections.Concurrent;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Chunks;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Volume;

/// <summary>
/// The volume's door to chunk bytes: the local store first, then <see cref="IChunkSource"/> (the peers) for a chunk
/// this node lacks or holds only a damaged copy of. Reads are two steps: <see cref="PrepareAsync"/> waits (without a
/// thread) until every chunk of the range is readable here — fetched, verified and imported where needed — and starts
/// fetching (or loading) the chunks after it when the file is read sequentially; then <see cref="Load"/> copies bytes
/// synchronously. Storage outcomes become errno-shaped <see cref="FsError"/>s here and nowhere else.
/// <para>A sequential read of local chunks goes through memory: each chunk is read whole and hashed once (on a worker
/// ahead of the reader, or by the reader itself when it gets there first) and its verified bytes are kept in
/// <see cref="RecentChunks"/>, so the reader copies verified bytes instead of reading and hashing the file again, and
/// a reader that reaches a chunk still being loaded waits for that load rather than hashing the chunk a second time.
/// Chunks are immutable and named by their hash, so bytes held under an id can never be stale: an overwrite or a
/// truncate gives the file new extents, with other ids.</para>
/// </summary>
public sealed class ChunkAccess
{
    private readonly ChunkStore _store;
    private readonly IChunkSource? _remote;
    private readonly ChunkAccessOptions _options;
    private readonly ILogger _logger;
    private readonly RecentChunks _recent;
    private readonly ConcurrentDictionary<ChunkId, Task<FsError>> _fetching = new();
    private readonly ConcurrentDictionary<ChunkId, Task> _loading = new();
    private readonly ConcurrentDictionary<ulong, long> _readEnds = new();
    private readonly SemaphoreSlim _warming;

    public ChunkAccess(ChunkStore store, ILogger logger, IChunkSource? remote = null, ChunkAccessOptions? options = null)
    {
        _store = store;
        _logger = logger;
        _remote = remote;
        _options = options ?? new ChunkAccessOptions();
        _recent = new RecentChunks(_options.RecentFetchedBytes);
        _warming = new SemaphoreSlim(_options.ParallelWarmUps);
    }

    /// <summary>
    /// Raised after a chunk was written by this node's writers (or found already present), with its bytes, before the
    /// mutation that references it is committed: replication starts pushing it, and garbage collection learns it is in
    /// use. The bytes are only valid during the call.
    /// </summary>
    public event ChunkStoredHandler? Stored;

    /// <summary>Raised after a chunk fetched from a peer was imported into the local store.</summary>
    public event Action<ChunkId, long>? Imported;

    /// <summary>Raised when a read found the local copy missing or corrupt (a corrupt one is in quarantine now).</summary>
    public event Action<ChunkId>? Lost;

    /// <summary>Raised when a read used a chunk (the cache evicts the least recently used first).</summary>
    public event Action<ChunkId>? Used;

    /// <summary>True when a chunk missing here can be fetched from elsewhere.</summary>
    public bool CanFetch => _remote is not null;

    public (FsError Error, ChunkId Id) Store(ReadOnlySpan<byte> content)
    {
        var result = _store.Put(content);
        VolumeMetrics.ChunkWritten(result.Status == ChunkWriteStatus.AlreadyPresent ? "deduplicated" : result.Succeeded ? "stored" : "failed", content.Length);
        if (result.Succeeded)
        {
            Stored?.Invoke(result.Id, content);
            // Garbage collection may have removed the copy this write deduplicated against just before the handler
            // marked the chunk as in use; once marked, it stays, so one more look settles it.
            if (result.Status == ChunkWriteStatus.AlreadyPresent && !_store.Contains(result.Id)) result = _store.Put(content);
        }
        if (result.Succeeded) return (FsError.None, result.Id);
        _logger.LogError("chunk write failed: {Status} {Error}", result.Status, result.Error);
        return (result.Status == ChunkWriteStatus.NoSpace ? FsError.NoSpace : FsError.Io, default);
    }

    /// <summary>
    /// Fills all of <paramref name="destination"/> from the chunk: from the bytes of a recent fetch, else the local
    /// store (verified). A missing, short or corrupt chunk is EIO (and raises <see cref="Lost"/>).
    /// </summary>
    public FsError Load(ChunkId id, long offset, Span<byte> destination)
    {
        if (_recent.TryCopy(id, offset, destination))
        {
            Used?.Invoke(id);
            return FsError.None;
        }
        var result = _store.Read(id, offset, destination);
        VolumeMetrics.ChunkRead(result.Succeeded && result.BytesRead == destination.Length, destination.Length);
        if (result.Succeeded && result.BytesRead == destination.Length)
        {
            Used?.Invoke(id);
            return FsError.None;
        }
        if (result.Status is ChunkReadStatus.NotFound or ChunkReadStatus.Corrupt) Lost?.Invoke(id);
        if (_remote is not null && result.Status is ChunkReadStatus.NotFound or ChunkReadStatus.Corrupt)
        {
            _logger.LogWarning("chunk {Chunk} unreadable here ({Status}); fetching a good copy from a peer", id, result.Status);
        }
        else
        {
            _logger.LogError("chunk {Chunk} unreadable at {Offset}+{Length}: {Status} {Error}", id, offset, destination.Length, result.Status, result.Error ?? "short chunk");
        }
        return FsError.Io;
    }

    /// <summary>
    /// Waits until every chunk that bytes [offset, offset + length) of <paramref name="extents"/> need can be read
    /// here: each one missing locally is fetched (once, however many readers want it), verified and imported. Only the
    /// chunks of this range are waited for. When <paramref name="ino"/> is read sequentially, the range's local chunks
    /// are loaded into memory (verified) and the next chunks are fetched or loaded in the background, so a streaming
    /// read neither waits a round trip per chunk nor hashes a chunk on its own thread that a worker is already hashing.
    /// EIO when a chunk can be had from nowhere; EINTR-style cancellation throws.
    /// </summary>
    public async ValueTask<FsError> PrepareAsync(ulong ino, ExtentMap extents, long offset, long length, CancellationToken ct)
    {
        if (length <= 0) return FsError.None;
        var end = offset + length;
        var sequential = _options.ReadAheadChunks > 0 && Sequential(ino, offset, end);
        if (sequential) ReadAhead(extents, offset, end);
        // A random read on a node alone has nothing to wait for: Load reads and verifies from the store.
        else if (_remote is null) return FsError.None;
        List<Task>? waits = null;
        foreach (var extent in extents.Overlapping(offset, end))
        {
            if (extent.Inline is not null) continue;
            var id = extent.Chunk;
            if (_recent.Contains(id)) continue;
            if (_loading.TryGetValue(id, out var loading))
            {
                (waits ??= []).Add(loading);
                continue;
            }
            if (_store.Contains(id))
            {
                // Loaded on this thread (a READ runs on the pool): no hop, and later readers of the chunk find it in memory.
                if (sequential) LoadOnce(id, ahead: false);
                continue;
            }
            if (_remote is not null) (waits ??= []).Add(FetchOnce(id));
        }
        if (waits is null) return FsError.None;
        foreach (var wait in waits)
        {
            // A load that failed (a missing or corrupt file) leaves nothing in memory: Load then takes the store's
            // path, reports the chunk lost and the read is retried through a fetch. A fetch's error is the read's.
            if (wait is Task<FsError> fetch)
            {
                var error = await fetch.WaitAsync(ct).ConfigureAwait(false);
                if (error != FsError.None) return error;
            }
            else
            {
                await wait.WaitAsync(ct).ConfigureAwait(false);
            }
        }
        return FsError.None;
    }

    public (long Total, long Free) Capacity() => _store.Capacity();

    /// <summary>Whether verified bytes of the chunk are held in memory (for tests).</summary>
    internal bool InMemory(ChunkId id) => _recent.Contains(id);

    /// <summary>One fetch per chunk at a time; later readers of the same chunk wait on the first.</summary>
    private Task<FsError> FetchOnce(ChunkId id)
    {
        while (true)
        {
            if (_fetching.TryGetValue(id, out var running)) return running;
            var started = new TaskCompletionSource<FsError>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_fetching.TryAdd(id, started.Task)) continue;
            _ = RunFetchAsync(id, started);
            return started.Task;
        }
    }

    private async Task RunFetchAsync(ChunkId id, TaskCompletionSource<FsError> done)
    {
        var error = FsError.Io;
        try
        {
            // Not the reader's token: other readers may wait on this fetch, and the chunk is worth having anyway.
            var fetched = await _remote!.FetchAsync(id, CancellationToken.None).ConfigureAwait(false);
            if (fetched.Chunk is { } chunk)
            {
                _recent.Add(chunk);
                var stored = _store.Import(chunk);
                if (stored.Succeeded) Imported?.Invoke(id, chunk.Length);
                // A full disk does not fail the read: the bytes are verified and held in memory.
                else _logger.LogWarning("chunk {Chunk} fetched but not stored here: {Status} {Error}", id, stored.Status, stored.Error);
                error = FsError.None;
            }
            else
            {
                _logger.LogError("chunk {Chunk} is missing here and could not be fetched: {Status} {Detail}", id, fetched.Status, fetched.Detail);
            }
        }
        catch (Exception e)
        {
            _logger.LogError(e, "fetching chunk {Chunk} failed", id);
        }
        finally
        {
            _fetching.TryRemove(id, out _);
            done.TrySetResult(error);
        }
    }

    /// <summary>A read that starts where the last read of the file ended is sequential.</summary>
    private bool Sequential(ulong ino, long offset, long end)
    {
        var sequential = _readEnds.TryGetValue(ino, out var lastEnd) && lastEnd == offset;
        if (_readEnds.Count > 4096) _readEnds.Clear();
        _readEnds[ino] = end;
        return sequential;
    }

    /// <summary>
    /// Starts on the chunks after a sequential read: remote ones are fetched; local ones are loaded (read whole and
    /// verified) on a worker, so the reader finds their bytes in memory instead of hashing a whole chunk before its
    /// first byte.
    /// </summary>
    private void ReadAhead(ExtentMap extents, long offset, long end)
    {
        // Once per chunk the reader enters, not on every read inside it: the window is checked chunk by chunk.
        var size = _options.ChunkSize;
        if (offset % size != 0 && offset / size == (end - 1) / size) return;
        var window = (long)_options.ReadAheadChunks * _options.ChunkSize;
        var seen = 0;
        foreach (var extent in extents.Overlapping(end, end + window))
        {
            if (extent.Inline is not null) continue;
            if (++seen > _options.ReadAheadChunks) break;
            var id = extent.Chunk;
            if (_recent.Contains(id) || _fetching.ContainsKey(id) || _loading.ContainsKey(id)) continue;
            if (_store.Contains(id)) LoadOnce(id, ahead: true);
            else if (_remote is not null) _ = FetchOnce(id);
        }
    }

    /// <summary>
    /// Reads a local chunk whole, verifies it and keeps its bytes in memory; once per chunk however many readers want
    /// it. Ahead of the reader it queues for one of <see cref="ChunkAccessOptions.ParallelWarmUps"/> workers (in order,
    /// so the next chunk the reader needs is loaded first); for the reader it runs on the caller's thread.
    /// </summary>
    private void LoadOnce(ChunkId id, bool ahead)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_loading.TryAdd(id, done.Task)) return;
        if (!ahead)
        {
            RunLoad(id, done);
            return;
        }
        _ = Task.Run(async () =>
        {
            await _warming.WaitAsync().ConfigureAwait(false);
            try
            {
                RunLoad(id, done);
            }
            finally
            {
                _warming.Release();
            }
        });
    }

    private void RunLoad(ChunkId id, TaskCompletionSource done)
    {
        try
        {
            var (status, bytes) = _store.ReadAll(id);
            VolumeMetrics.ChunkRead(status == ChunkReadStatus.Ok, bytes?.Length ?? 0);
            // Only bytes that hashed to the id (or that the store's memo vouches for) are kept; a failure is left to the
            // reader's own Load, which reports it (and quarantine has already moved a corrupt file aside).
            if (status == ChunkReadStatus.Ok && bytes is not null) _recent.AddVerified(id, bytes);
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "loading chunk {Chunk} into memory failed; the read goes to the store", id);
        }
        finally
        {
            _loading.TryRemove(id, out _);
            done.TrySetResult();
        }
    }
}

/// <summary>A chunk this node's writers stored; <paramref name="bytes"/> are valid only during the call.</summary>
public delegate void ChunkStoredHandler(ChunkId id, ReadOnlySpan<byte> bytes);

/// <summary>Tunables of <see cref="ChunkAccess"/>.</summary>
public sealed record ChunkAccessOptions
{
    /// <summary>The volume's chunk size: how far one chunk of read-ahead reaches.</summary>
    public int ChunkSize { get; init; } = 1024 * 1024;

    /// <summary>Chunks past a sequential read fetched or verified ahead of it (0 turns read-ahead off).</summary>
    public int ReadAheadChunks { get; init; } = 8;

    /// <summary>
    /// Local chunks loaded ahead at the same time (each is a worker reading and hashing a chunk): one per core, so a
    /// sequential read hashes on every core while the reader copies.
    /// </summary>
    public int ParallelWarmUps { get; init; } = Math.Clamp(Environment.ProcessorCount, 1, 4);

    /// <summary>Bytes of recently fetched or loaded chunks kept in memory for the reads that follow.</summary>
    public long RecentFetchedBytes { get; init; } = 64L << 20;
}
