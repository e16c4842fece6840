using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;
using DinoMesh.Storage.Native;

namespace DinoMesh.Storage.Chunks;

/// <summary>
/// Writes large chunk files back to disk off the write path, and then drops their page-cache pages. Without the drop
/// every chunk written stays cached twice on the writer (in the mounted file's pages and in the chunk file's) and once
/// on every peer that took a copy, until memory pressure evicts it; and on a virtual machine whose host backs guest
/// memory lazily, each of those fresh pages costs a host fault when the write copies into it (writes into reused pages
/// ran 2-3x faster there, see docs/benchmarks.md). Pages given back soon are the ones the next writes get.
/// <para>One worker per store. It takes the files published since it last looked (up to <see cref="Batch"/>), starts
/// the writeback of all of them (sync_file_range WRITE, which flushes no device cache and so adds no durability point;
/// not for a file taken alone, which the wait starts itself), then waits for each and advises DONTNEED. The writer only queues the path (with the file's descriptor, still open, when it has one: an open and a close fewer per file): starting writeback on the writer's own
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

    /// <summary>
    /// Open files handed over with their path at most (the writer's own descriptor, which saves the worker an open and
    /// a close per file); past this the writer closes its descriptor and the worker opens the path, so a slow disk
    /// never holds thousands of descriptors.
    /// </summary>
    private const int MaxHandlesQueued = 2 * Batch;

    private readonly Channel<Published> _written;
    private readonly bool _drop;
    private int _started;
    private int _handlesQueued;
    private long _dropped;
    private long _writtenBack;
    private long _rangeSyncs;

    /// <param name="drop">Drop each file's pages once written back (else only start its writeback).</param>
    public WrittenPages(bool drop)
    {
        _drop = drop;
        _written = Channel.CreateBounded<Published>(new BoundedChannelOptions(QueueBound)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        }, Forget);
    }

    /// <summary>Files whose pages were dropped (for tests and status).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Files whose writeback the worker started (for tests).</summary>
    public long WrittenBack => Interlocked.Read(ref _writtenBack);

    /// <summary>Open files handed over and not yet closed by the worker (for tests).</summary>
    public int HandlesQueued => Volatile.Read(ref _handlesQueued);

    /// <summary>A chunk file was published at <paramref name="path"/>, its pages dirty in the cache.</summary>
    public void Written(string path) => Written(path, null);

    /// <summary>
    /// <see cref="Written(string)"/> with the file still open: <paramref name="handle"/> (any access mode) is the
    /// worker's from now on, which closes it when done.
    /// </summary>
    public void Written(string path, SafeFileHandle? handle)
    {
        if (Interlocked.Exchange(ref _started, 1) == 0) _ = Task.Run(DrainAsync);
        if (handle is not null && Interlocked.Increment(ref _handlesQueued) > MaxHandlesQueued)
        {
            Interlocked.Decrement(ref _handlesQueued);
            handle.Dispose();
            handle = null;
        }
        // A full queue drops the item (Forget closes its handle): advice only.
        _written.Writer.TryWrite(new Published(path, handle));
    }

    /// <summary>sync_file_range of the whole file, counted.</summary>
    private int SyncRange(int fd, uint flags)
    {
        Interlocked.Increment(ref _rangeSyncs);
        return LibC.SyncFileRange(fd, 0, 0, flags);
    }

    /// <summary>sync_file_range calls made so far (for tests).</summary>
    public long RangeSyncs => Interlocked.Read(ref _rangeSyncs);

    private readonly record struct Published(string Path, SafeFileHandle? Handle);

    private void Forget(Published published)
    {
        if (published.Handle is null) return;
        published.Handle.Dispose();
        Interlocked.Decrement(ref _handlesQueued);
    }

    private async Task DrainAsync()
    {
        var open = new List<(int Fd, Published File)>(Batch);
        while (await _written.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (open.Count < Batch && _written.Reader.TryRead(out var published))
            {
                int fd = published.Handle is { } handle ? (int)handle.DangerousGetHandle() : LibC.Open(published.Path, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
                if (fd < 0) continue; // deleted or replaced meanwhile
                open.Add((fd, published));
            }
            // A file taken alone (what a reader's imports mostly are: one chunk at a time) is written back by the waiting
            // call below, which starts what is not started yet: a separate start first would be a system call for nothing.
            if (!_drop || open.Count > 1)
            {
                foreach (var (fd, _) in open) SyncRange(fd, LibC.SYNC_FILE_RANGE_WRITE);
            }
            Interlocked.Add(ref _writtenBack, open.Count);
            foreach (var (fd, published) in open)
            {
                try
                {
                    // Dirty or in-flight pages cannot be dropped: wait for the writeback started above.
                    if (_drop && SyncRange(fd, LibC.SYNC_FILE_RANGE_WAIT_BEFORE | LibC.SYNC_FILE_RANGE_WRITE | LibC.SYNC_FILE_RANGE_WAIT_AFTER) == 0
                        && LibC.PosixFadvise(fd, 0, 0, LibC.POSIX_FADV_DONTNEED) == 0)
                    {
                        Interlocked.Increment(ref _dropped);
                    }
                }
                finally
                {
                    if (published.Handle is null) LibC.Close(fd);
                    else Forget(published);
                }
            }
            open.Clear();
        }
    }
}
