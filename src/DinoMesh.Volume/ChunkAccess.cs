using System.Collections.Concurrent;
using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Chunks;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Volume;

/// <summary>
/// The volume's door to chunk bytes: the local store first, then <see cref="IChunkSource"/> (the peers) for a chunk
/// this node lacks or holds only a damaged copy of. Reads are two steps: <see cref="PrepareAsync"/> waits (without a
/// thread) until every chunk of the range is readable here — fetched, verified and imported where needed — and starts
/// fetching (or verifying) the chunks after it when the file is read sequentially; then <see cref="Load"/> copies bytes
/// synchronously. Storage outcomes become errno-shaped <see cref="FsError"/>s here and nowhere else. A store (a user's or
/// the compactor's), or the import of a fetched chunk, that finds the disk full asks <see cref="IChunkRoom"/> (the
/// node's cache) to make room and tries again before it gives up (<see cref="ChunkRoom.Write"/>).
/// </summary>
public sealed class ChunkAccess
{
    private readonly ChunkStore _store;
    private readonly IChunkSource? _remote;
    private readonly IChunkRoom? _room;
    private readonly ChunkAccessOptions _options;
    private readonly ILogger _logger;
    private readonly RecentChunks _recent;
    private readonly ConcurrentDictionary<ChunkId, Task<FsError>> _fetching = new();
    private readonly ConcurrentDictionary<ulong, long> _readEnds = new();
    // Local chunks a worker brought in lately (tick count): the window slides one chunk at a time, so each would
    // otherwise be asked 8 times; after WarmedFor a later read of the same file asks again.
    private readonly ConcurrentDictionary<ChunkId, long> _warmed = new();
    private const long WarmedForMs = 10_000;
    private readonly SemaphoreSlim _warming;

    public ChunkAccess(ChunkStore store, ILogger logger, IChunkSource? remote = null, ChunkAccessOptions? options = null, IChunkRoom? room = null)
    {
        _store = store;
        _room = room;
        _logger = logger;
        _remote = remote;
        _options = options ?? new ChunkAccessOptions();
        _recent = new RecentChunks(_options.RecentFetchedBytes);
        _warming = new SemaphoreSlim(_options.ParallelWarmUps);
    }

    /// <summary>
    /// Raised after a chunk was written by this node's writers (or found already present), with its bytes, before the
    /// mutation that references it is committed: replication starts pushing it, and garbage collection learns it is in
    /// use. The bytes are only valid during the call, unless the writer lent them (see <see cref="ChunkStoredHandler"/>).
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

    /// <param name="lendable">The same bytes in a shared array a handler may keep (<see cref="ChunkStoredHandler"/>), if the writer has them so.</param>
    /// <param name="background">
    /// Background work that reports a full disk itself (the compactor: one line per pause): ENOSPC is logged at Debug
    /// here and in the store. Either way, on ENOSPC the cache is asked to make room and the store tried again
    /// (<see cref="ChunkRoom.Write"/>); a user's ENOSPC that stays is logged as an error as before.
    /// </param>
    public (FsError Error, ChunkId Id) Store(ReadOnlySpan<byte> content, LendableBytes? lendable = null, bool background = false)
    {
        var result = ChunkRoom.Write(_room, content.Length, new PutArguments(_store, content, background),
            static (put, roomMayFollow) => put.Store.Put(put.Content, put.Background || roomMayFollow), NoSpace);
        VolumeMetrics.ChunkWritten(result.Status == ChunkWriteStatus.AlreadyPresent ? "deduplicated" : result.Succeeded ? "stored" : "failed", content.Length);
        if (result.Succeeded)
        {
            Stored?.Invoke(result.Id, content, lendable);
            // Garbage collection may have removed the copy this write deduplicated against just before the handler
            // marked the chunk as in use; once marked, it stays, so one more look settles it.
            if (result.Status == ChunkWriteStatus.AlreadyPresent && !_store.Contains(result.Id)) result = _store.Put(content, background);
        }
        if (result.Succeeded) return (FsError.None, result.Id);
        var quiet = background && result.Status == ChunkWriteStatus.NoSpace;
        _logger.Log(quiet ? LogLevel.Debug : LogLevel.Error, "chunk write failed: {Status} {Error}", result.Status, result.Error);
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
    /// chunks of this range are waited for. When <paramref name="ino"/> is read sequentially, the next chunks are
    /// fetched (or, when local, verified) in the background, so a streaming read does not wait a round trip per chunk.
    /// EIO when a chunk can be had from nowhere; EINTR-style cancellation throws.
    /// </summary>
    public async ValueTask<FsError> PrepareAsync(ulong ino, ExtentMap extents, long offset, long length, CancellationToken ct)
    {
        if (length <= 0) return FsError.None;
        var end = offset + length;
        if (_options.ReadAheadChunks > 0) ReadAhead(ino, extents, offset, end);
        if (_remote is null) return FsError.None;
        List<Task<FsError>>? waits = null;
        foreach (var extent in extents.Overlapping(offset, end))
        {
            if (extent.Inline is not null || _recent.Contains(extent.Chunk)) continue;
            // A chunk whose fetch is under way (read-ahead started most of them) is waited on without asking the store.
            if (FetchUnlessHere(extent.Chunk) is { } fetch) (waits ??= []).Add(fetch);
        }
        if (waits is null) return FsError.None;
        foreach (var wait in waits)
        {
            var error = await wait.WaitAsync(ct).ConfigureAwait(false);
            if (error != FsError.None) return error;
        }
        return FsError.None;
    }

    public (long Total, long Free) Capacity() => _store.Capacity();

    /// <summary>
    /// Bytes the room (the node's cache) could give up now, as last counted: statfs and fallocate count them as free
    /// (<see cref="ChunkDiskSpace"/>). 0 without a room.
    /// </summary>
    public long Evictable => _room?.Evictable ?? 0;

    /// <summary>
    /// fallocate's check that <paramref name="bytes"/> more fit on the chunk disk: at once when its free space holds
    /// them; ENOSPC at once when not even every evictable byte of the cache would (nothing is evicted for an allocation
    /// that cannot succeed); otherwise the room is asked for what the disk lacks, by the rule every chunk writer follows
    /// (<see cref="ChunkRoom.WriteAsync"/>: up to three asks while each makes room, the free space read again after
    /// each), and ENOSPC only when that cannot make room. Nothing is reserved: the writes into the range can still meet
    /// ENOSPC if others take the space first (they then ask for room themselves).
    /// </summary>
    public async ValueTask<FsError> EnsureRoomAsync(long bytes, CancellationToken ct)
    {
        var (total, free) = _store.Capacity();
        var space = new ChunkDiskSpace(total, free, Evictable);
        switch (space.RoomFor(bytes))
        {
            case RoomFor.Fits:
                return FsError.None;
            case RoomFor.None:
                return FsError.NoSpace;
        }
        var fits = await ChunkRoom.WriteAsync(_room, space.Shortfall(bytes), _ => bytes <= _store.Capacity().Free, static fit => !fit, ct)
            .ConfigureAwait(false);
        return fits ? FsError.None : FsError.NoSpace;
    }

    private static bool NoSpace(ChunkWriteResult result) => result.Status == ChunkWriteStatus.NoSpace;

    /// <summary>A store's arguments in one value, so the write <see cref="ChunkRoom.Write"/> repeats captures nothing (one per sealed block).</summary>
    private readonly ref struct PutArguments(ChunkStore store, ReadOnlySpan<byte> content, bool background)
    {
        public ChunkStore Store { get; } = store;
        public ReadOnlySpan<byte> Content { get; } = content;
        public bool Background { get; } = background;
    }

    /// <summary>
    /// The fetch of a chunk the store lacks, or null when the store holds it. One fetch per chunk at a time, and one
    /// look in the store per chunk however many readers reach it together: the chunk is claimed in <c>_fetching</c>
    /// before the store is asked, so a reader that comes while the look is under way waits on the claim instead of
    /// asking the store again (the kernel sends a file's READs on several threads at once, and their read-ahead windows
    /// overlap: without the claim about 1.6 failing statx per fetched chunk, docs/benchmarks.md, "Remote cold read:
    /// the system calls of a fetched and of a served chunk counted again"). A claim whose chunk turns out to be here
    /// is completed with <see cref="FsError.None"/>: its waiters read the chunk from the store. A fetch that ends
    /// imports its chunk before it leaves <c>_fetching</c>, so a reader that comes after it finds the chunk here.
    /// </summary>
    private Task<FsError>? FetchUnlessHere(ChunkId id)
    {
        while (true)
        {
            if (_fetching.TryGetValue(id, out var running)) return running;
            var claim = new TaskCompletionSource<FsError>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_fetching.TryAdd(id, claim.Task)) continue;
            var fetching = false;
            try
            {
                if (IsHere(id)) return null;
                _ = RunFetchAsync(id, claim);
                fetching = true;
                return claim.Task;
            }
            finally
            {
                if (!fetching)
                {
                    _fetching.TryRemove(new KeyValuePair<ChunkId, Task<FsError>>(id, claim.Task));
                    claim.TrySetResult(FsError.None);
                }
            }
        }
    }

    /// <summary>Asks the store whether it holds the chunk (a statx), counted (<see cref="StoreLooks"/>).</summary>
    private bool IsHere(ChunkId id)
    {
        Interlocked.Increment(ref _storeLooks);
        return _store.Contains(id);
    }

    private long _storeLooks;

    /// <summary>How many times the read path asked the store whether it holds a chunk (for tests).</summary>
    internal long StoreLooks => Interlocked.Read(ref _storeLooks);

    private async Task RunFetchAsync(ChunkId id, TaskCompletionSource<FsError> done)
    {
        var error = FsError.Io;
        try
        {
            // Not the reader's token: other readers may wait on this fetch, and the chunk is worth having anyway.
            var fetched = await _remote!.FetchAsync(id, CancellationToken.None).ConfigureAwait(false);
            if (fetched.Chunk is { } chunk)
            {
                ChunkWriteResult stored;
                try
                {
                    // The recent-fetch memory takes a reference of its own on the buffer the chunk was received into;
                    // this fetch's reference ends once the chunk file is written.
                    _recent.Add(chunk, fetched.Lease);
                    // Fetched because the store lacked it: no look again before the write (ChunkStore.ImportFetched). A
                    // full disk: the cache may give up older chunks for this one (the bytes are still this fetch's).
                    stored = ChunkRoom.Write(_room, chunk.Length, (_store, chunk),
                        static (import, roomMayFollow) => import._store.ImportFetched(import.chunk, background: roomMayFollow), NoSpace);
                }
                finally
                {
                    fetched.Lease?.Release();
                }
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

    /// <summary>
    /// A read that starts where the last read of the file ended is sequential: start on the chunks after it. Remote ones
    /// are fetched; local ones are handed to <see cref="ChunkStore.Prefetch"/> on a worker (which SHA-256-verifies those
    /// without an at-rest checksum into the store's verified memo), so the reader does not hash a whole chunk before
    /// its first byte, but only when the store says that can help (<see cref="ChunkStore.PrefetchHelps"/>): with
    /// at-rest checksums and direct reads a worker would only open each file once more, a thread wake-up per chunk.
    /// </summary>
    private void ReadAhead(ulong ino, ExtentMap extents, long offset, long end)
    {
        var sequential = _readEnds.TryGetValue(ino, out var lastEnd) && lastEnd == offset;
        if (_readEnds.Count > 4096) _readEnds.Clear();
        _readEnds[ino] = end;
        // Once per chunk the reader enters, not on every read inside it: the window is checked chunk by chunk.
        var size = _options.ChunkSize;
        if (!sequential || (offset % size != 0 && offset / size == (end - 1) / size)) return;
        var window = (long)_options.ReadAheadChunks * _options.ChunkSize;
        var seen = 0;
        // Local chunks the reader checks at memory speed itself need nothing ahead (ChunkStore.PrefetchHelps).
        var warmLocal = _store.PrefetchHelps;
        if (_warmed.Count > 4096) _warmed.Clear();
        List<ChunkId>? local = null;
        foreach (var extent in extents.Overlapping(end, end + window))
        {
            if (extent.Inline is not null) continue;
            if (++seen > _options.ReadAheadChunks) break;
            var id = extent.Chunk;
            if (_recent.Contains(id) || _fetching.ContainsKey(id)) continue;
            if (_warmed.TryGetValue(id, out var warmedAt) && Environment.TickCount64 - warmedAt < WarmedForMs) continue;
            // Missing here: fetched (FetchUnlessHere started it), or nothing to do without peers.
            if (_remote is not null ? FetchUnlessHere(id) is not null : !IsHere(id)) continue;
            if (warmLocal) (local ??= []).Add(id);
            // Local and nothing to do ahead: not looked at again for a while either.
            else _warmed[id] = Environment.TickCount64;
        }
        if (local is not null) WarmUp(local);
    }

    /// <summary>
    /// Brings local chunks in on a worker, nearest first (<see cref="ChunkStore.Prefetch"/>: cheap for a chunk with an
    /// at-rest checksum, a SHA-256 of it otherwise); skipped when the workers are busy, and the next chunk the reader
    /// enters asks again.
    /// </summary>
    private void WarmUp(List<ChunkId> ids)
    {
        if (!_warming.Wait(0)) return;
        var now = Environment.TickCount64;
        foreach (var id in ids) _warmed[id] = now;
        _ = Task.Run(() =>
        {
            try
            {
                foreach (var id in ids) _store.Prefetch(id);
            }
            finally
            {
                _warming.Release();
            }
        });
    }
}

/// <summary>
/// A chunk this node's writers stored; <paramref name="bytes"/> are valid only during the call. Where the writer can lend
/// them, <paramref name="lendable"/> is the same bytes in a shared array that one handler may keep past the call (taking a
/// reference of its own) and whose room in front of the bytes it may write into.
/// </summary>
public delegate void ChunkStoredHandler(ChunkId id, ReadOnlySpan<byte> bytes, LendableBytes? lendable);

/// <summary>Tunables of <see cref="ChunkAccess"/>.</summary>
public sealed record ChunkAccessOptions
{
    /// <summary>The volume's chunk size: how far one chunk of read-ahead reaches.</summary>
    public int ChunkSize { get; init; } = 1024 * 1024;

    /// <summary>Chunks past a sequential read fetched or verified ahead of it (0 turns read-ahead off).</summary>
    public int ReadAheadChunks { get; init; } = 8;

    /// <summary>Local chunks verified ahead at the same time (each is a worker hashing a chunk).</summary>
    public int ParallelWarmUps { get; init; } = 1;

    /// <summary>Bytes of recently fetched chunks kept in memory for the reads that follow the fetch.</summary>
    public long RecentFetchedBytes { get; init; } = 64L << 20;
}
