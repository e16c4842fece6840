using System.Threading.Channels;
using DinoMesh.Storage.Native;

namespace DinoMesh.Storage.Chunks;

/// <summary>
/// Drops the page-cache pages of chunk files once they are on disk. Without it every chunk written stays cached twice
/// on the writer (in the mounted file's pages and in the chunk file's) and once on every peer that took a copy, until
/// memory pressure evicts it; and on a virtual machine whose host backs guest memory lazily, each of those fresh
/// pages costs a host fault when the write copies into it (writes into reused pages ran 2-3x faster there, see
/// docs/benchmarks.md). Pages given back soon are the ones the next writes get.
/// <para>One worker per store, off the write path: for each file it waits for the writeback the store started
/// (sync_file_range, which flushes no device cache and so adds no durability point) and then advises DONTNEED.
/// Advice only: a file deleted meanwhile, a full queue or a failing call changes nothing but what stays cached.</para>
/// </summary>
internal sealed class WrittenPages
{
    private const int QueueBound = 256;

    private readonly Channel<string> _written = Channel.CreateBounded<string>(new BoundedChannelOptions(QueueBound)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private int _started;
    private long _dropped;

    /// <summary>Files whose pages were dropped (for tests and status).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>A chunk file was published at <paramref name="path"/>; its writeback has been started.</summary>
    public void Written(string path)
    {
        if (Interlocked.Exchange(ref _started, 1) == 0) _ = Task.Run(DrainAsync);
        _written.Writer.TryWrite(path);
    }

    private async Task DrainAsync()
    {
        while (await _written.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (_written.Reader.TryRead(out var path)) Drop(path);
        }
    }

    private void Drop(string path)
    {
        int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (fd < 0) return; // deleted or replaced meanwhile
        try
        {
            // Dirty or in-flight pages cannot be dropped: wait for the writeback (started when the file was written).
            if (LibC.SyncFileRange(fd, 0, 0, LibC.SYNC_FILE_RANGE_WAIT_BEFORE | LibC.SYNC_FILE_RANGE_WRITE | LibC.SYNC_FILE_RANGE_WAIT_AFTER) != 0) return;
            if (LibC.PosixFadvise(fd, 0, 0, LibC.POSIX_FADV_DONTNEED) == 0) Interlocked.Increment(ref _dropped);
        }
        finally
        {
            LibC.Close(fd);
        }
    }
}
