using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Chunks;

/// <summary>
/// Flushes the device's write cache in the background while chunks are being written, so the flush an fsync must wait
/// for (<see cref="ChunkStore.SyncAll"/>) finds little left to do. A device flush costs in proportion to what was
/// written since the last one: on the development machine (a KVM guest whose disk the host caches) about 0.45 ms per
/// MiB plus a few ms, so the syncfs at the end of a 256 MiB R = 2 write (512 MiB of chunk files over three nodes)
/// waited 200-350 ms with the CPUs idle, a quarter of the whole write (docs/benchmarks.md). Flushing every
/// <see cref="ChunkStoreOptions.EarlyFlushBytes"/> while the write goes on overlaps that wait with the work.
/// <para>The flush is an fsync of an empty marker file that never changes: the file system has nothing of the file's
/// to write and only asks the device to flush its cache (ext4, XFS). A syncfs would do that too, but first it writes
/// back the file system's dirty metadata (directory blocks, inode bitmaps and tables), whose buffers stay locked until
/// the device has taken them, behind the flush: chunks created or looked up meanwhile waited for it (the p99 of a 1 MiB
/// FUSE write rose from 8-16 ms to 53-74 ms; docs/benchmarks.md). With the marker, lookups still wait at times (p99
/// 20-60 ms, cause not found yet). The chunk files' data reach the device through <see cref="WrittenPages"/>, off the
/// write path, so what is flushed early is mostly theirs.</para>
/// <para>Not a durability point: nothing is promised after it, and <see cref="ChunkStore.SyncAll"/> still syncs
/// everything itself. It reads no writeback error of the file system (an fsync reports only its own file's), so the
/// store's syncfs is still told of every one. One flush at a time, on a pool thread, never on the writer's.</para>
/// </summary>
internal sealed class EarlyFlush
{
    /// <summary>The marker's name in the chunk directory (beside the fan-out directories, where no chunk can be).</summary>
    public const string MarkerName = "device-flush";

    /// <summary>One that never flushes (early flushes turned off, or every chunk synced on its own anyway).</summary>
    public static EarlyFlush Off() => new(null, 0);

    private readonly SafeFileHandle? _marker;
    private readonly long _everyBytes;
    private long _sinceFlush;
    private int _running;
    private long _flushes;

    private EarlyFlush(SafeFileHandle? marker, long everyBytes)
    {
        _marker = marker;
        _everyBytes = marker is null ? 0 : everyBytes;
    }

    /// <summary>
    /// Flushes through the marker file at <paramref name="path"/> (created, and synced once so that its own directory
    /// entry is not what a later flush writes) every <paramref name="everyBytes"/> written.
    /// </summary>
    public static EarlyFlush Through(string path, long everyBytes)
    {
        var marker = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite);
        File.SetUnixFileMode(marker, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        RandomAccess.FlushToDisk(marker);
        return new EarlyFlush(marker, everyBytes);
    }

    /// <summary>Flushes started so far.</summary>
    public long Flushes => Interlocked.Read(ref _flushes);

    /// <summary>True while a flush runs.</summary>
    public bool Running => Volatile.Read(ref _running) != 0;

    /// <summary>A chunk file of <paramref name="bytes"/> was written: flush once enough piled up.</summary>
    public void Written(long bytes)
    {
        if (_everyBytes <= 0 || Interlocked.Add(ref _sinceFlush, bytes) < _everyBytes) return;
        // One at a time: a flush covers every write that reached the device before it, and the bytes keep counting.
        if (Interlocked.CompareExchange(ref _running, 1, 0) != 0) return;
        Interlocked.Exchange(ref _sinceFlush, 0);
        Interlocked.Increment(ref _flushes);
        _ = Task.Run(Run);
    }

    /// <summary>A full sync is about to flush everything: what piled up so far needs no early flush of its own.</summary>
    public void Syncing() => Interlocked.Exchange(ref _sinceFlush, 0);

    private void Run()
    {
        try
        {
            RandomAccess.FlushToDisk(_marker!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            // Advice only: the store's own syncfs decides what is durable, and reports any failure.
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }
}
