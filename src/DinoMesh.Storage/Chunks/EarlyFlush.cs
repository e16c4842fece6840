namespace DinoMesh.Storage.Chunks;

/// <summary>
/// Flushes the device in the background while chunks are being written, so the flush an fsync must wait for
/// (<see cref="ChunkStore.SyncAll"/>) finds little left to do. A device flush costs in proportion to what was written
/// since the last one: on the development machine (a KVM guest whose disk the host caches) about 0.45 ms per MiB plus
/// 4 ms, so the syncfs at the end of a 256 MiB R = 2 write (600 MiB of chunk files over three nodes) waited 260-300 ms
/// with the CPUs idle, a third of the whole write (docs/benchmarks.md). Flushing every
/// <see cref="ChunkStoreOptions.EarlyFlushBytes"/> while the write goes on overlaps that wait with the work.
/// <para>Not a durability point: nothing is promised after it, and <see cref="ChunkStore.SyncAll"/> still syncs everything
/// itself. One flush at a time, on a pool thread, never on the writer's. A failing flush (a writeback error) is kept and
/// reported by the next <see cref="TakeFailure"/>, so an error this flush saw first still fails the next fsync.</para>
/// </summary>
internal sealed class EarlyFlush
{
    private readonly Action _flush;
    private readonly long _everyBytes;
    private long _sinceFlush;
    private int _running;
    private long _flushes;
    private string? _failure;

    /// <param name="flush">The flush (syncfs of the chunk directory's file system); throws <see cref="IOException"/> on failure.</param>
    /// <param name="everyBytes">Bytes written between flushes; 0 turns early flushes off.</param>
    public EarlyFlush(Action flush, long everyBytes)
    {
        _flush = flush;
        _everyBytes = everyBytes;
    }

    /// <summary>Flushes started so far.</summary>
    public long Flushes => Interlocked.Read(ref _flushes);

    /// <summary>True while a flush runs (for tests).</summary>
    public bool Running => Volatile.Read(ref _running) != 0;

    /// <summary>A chunk file of <paramref name="bytes"/> was written (its writeback started): flush once enough piled up.</summary>
    public void Written(long bytes)
    {
        if (_everyBytes <= 0 || Interlocked.Add(ref _sinceFlush, bytes) < _everyBytes) return;
        // One at a time: a flush waits for every write before it anyway, and the bytes keep counting meanwhile.
        if (Interlocked.CompareExchange(ref _running, 1, 0) != 0) return;
        Interlocked.Exchange(ref _sinceFlush, 0);
        Interlocked.Increment(ref _flushes);
        _ = Task.Run(Run);
    }

    /// <summary>A full sync is about to flush everything: what piled up so far needs no early flush of its own.</summary>
    public void Syncing() => Interlocked.Exchange(ref _sinceFlush, 0);

    /// <summary>The failure of an early flush since the last call, if any (each is reported once).</summary>
    public string? TakeFailure() => Interlocked.Exchange(ref _failure, null);

    private void Run()
    {
        try
        {
            _flush();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Exchange(ref _failure, e.Message);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }
}
