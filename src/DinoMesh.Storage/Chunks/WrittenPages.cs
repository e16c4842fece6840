using System.Threading.Channels;
using DinoMesh.Storage.Native;

namespace DinoMesh.Storage.Chunks;

/// <summary>
/// Writes large chunk files back to disk off the write path, and then drops their page-cache pages. Without the drop
/// every chunk written stays cached twice on the writer (in the mounted file's pages and in the chunk file's) and once
/// on every peer that took a copy, until memory pressure evicts it; and on a virtual machine whose host backs guest
/// memory lazily, each of those fresh pages costs a host fault when the write copies into it (writes into reused pages
/// ran 2-3x faster there, see docs/benchmarks.md). Pages given back soon are the ones the next writes get.
/// <para>One worker per store. It takes the files published since it last looked (up to <see cref="Batch"/>), starts
/// the writeback of all of them (sync_file_range WRITE, which flushes no device cache and so adds no durability point),
/// then waits for each and advises DONTNEED. The writer only queues the path: starting writeback on the writer's own
/// thread blocks it whenever the device is busy (a flush of the device holds back every write submitted meanwhile: a
/// loop of 1 MiB files that started each one's writeback itself took 2.0-2.2x as long while another thread flushed
/// every 60 ms, one that left it to a worker 1.1-1.3x; docs/benchmarks.md), so a seal or a peer's push would wait for the disk.
/// Advice only: a file deleted meanwhile, a full queue or a failing call changes nothing but what stays cached and when
/// its bytes reach the disk (the next <see cref="ChunkStore.SyncAll"/> writes back whatever is left).</para>
/// </summary>
internal sealed class WrittenPages
{
    private const int QueueBound = 4096;

    /// <summary>Files whose writeback is started together before the worker waits for the first of them.</summary>
    private const int Batch = 32;

    private readonly Channel<string> _written = Channel.CreateBounded<string>(new BoundedChannelOptions(QueueBound)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly bool _drop;
    private int _started;
    private long _dropped;
    private long _writtenBack;

    /// <param name="drop">Drop each file's pages once written back (else only start its writeback).</param>
    public WrittenPages(bool drop) => _drop = drop;

    /// <summary>Files whose pages were dropped (for tests and status).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Files whose writeback the worker started (for tests).</summary>
    public long WrittenBack => Interlocked.Read(ref _writtenBack);

    /// <summary>A chunk file was published at <paramref name="path"/>, its pages dirty in the cache.</summary>
    public void Written(string path)
    {
        if (Interlocked.Exchange(ref _started, 1) == 0) _ = Task.Run(DrainAsync);
        _written.Writer.TryWrite(path);
    }

    private async Task DrainAsync()
    {
        var open = new List<int>(Batch);
        while (await _written.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (open.Count < Batch && _written.Reader.TryRead(out var path))
            {
                int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
                if (fd < 0) continue; // deleted or replaced meanwhile
                LibC.SyncFileRange(fd, 0, 0, LibC.SYNC_FILE_RANGE_WRITE);
                Interlocked.Increment(ref _writtenBack);
                open.Add(fd);
            }
            foreach (var fd in open)
            {
                try
                {
                    // Dirty or in-flight pages cannot be dropped: wait for the writeback started above.
                    if (_drop && LibC.SyncFileRange(fd, 0, 0, LibC.SYNC_FILE_RANGE_WAIT_BEFORE | LibC.SYNC_FILE_RANGE_WRITE | LibC.SYNC_FILE_RANGE_WAIT_AFTER) == 0
                        && LibC.PosixFadvise(fd, 0, 0, LibC.POSIX_FADV_DONTNEED) == 0)
                    {
                        Interlocked.Increment(ref _dropped);
                    }
                }
                finally
                {
                    LibC.Close(fd);
                }
            }
            open.Clear();
        }
    }
}
