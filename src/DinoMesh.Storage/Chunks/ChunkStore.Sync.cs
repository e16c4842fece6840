using Microsoft.Extensions.Logging;

namespace DinoMesh.Storage.Chunks;

public sealed partial class ChunkStore
{
    /// <summary>
    /// Makes every chunk stored (and deleted) before the call durable against power loss: one syncfs(2) for the whole
    /// filesystem, a single device flush however many chunks were written. No directory is fsynced after it: syncfs
    /// writes back every dirty inode and metadata block of the filesystem (the fan-out directories' entries, made by
    /// renames that returned before this call, included) and then flushes the device, so an fsync of a directory
    /// afterwards found nothing left to write and only flushed the device once more (about 60 µs each on ext4 without a
    /// journal, 15 ms for 256 directories; benchmarks.md). Throws <see cref="IOException"/> when the kernel reports a
    /// writeback error: the caller must then treat the data as not durable (EIO to fsync). The failure sticks: the
    /// pages that failed are clean now, so a later syncfs would succeed over chunks that never reached the disk; every
    /// later call fails with the first error until the node restarts (reads verify each chunk, and a damaged one is
    /// fetched again from a peer).
    /// </summary>
    public void SyncAll()
    {
        _earlyFlush.Syncing();
        if (Volatile.Read(ref _writebackFailure) is { } failed) throw new IOException(failed);
        try
        {
            _fileSystemSync.Sync();
        }
        catch (IOException e)
        {
            if (Interlocked.CompareExchange(ref _writebackFailure, $"{e.Message} (chunks written since the last sync may not be on disk; fsync fails until the node restarts)", null) is null)
            {
                _logger.LogError("chunks: writing chunks back to {Directory} failed: {Error}; every fsync on this node fails from now on, until it restarts", _chunkDirectory, e.Message);
            }
            throw new IOException(_writebackFailure, e);
        }
    }
}
