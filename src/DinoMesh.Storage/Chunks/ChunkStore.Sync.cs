using DinoMesh.Storage.Native;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Storage.Chunks;

public sealed partial class ChunkStore
{
    /// <summary>
    /// Makes every chunk stored (and deleted) before the call durable against power loss: one syncfs(2) for the whole
    /// filesystem — a single device flush however many chunks were written — then an fsync of each directory whose
    /// entries changed. Throws <see cref="IOException"/> when the kernel reports a writeback error: the caller must
    /// then treat the data as not durable (EIO to fsync). The failure sticks: the pages that failed are clean now, so
    /// a later syncfs would succeed over chunks that never reached the disk; every later call fails with the first
    /// error until the node restarts (reads verify each chunk, and a damaged one is fetched again from a peer).
    /// </summary>
    public void SyncAll()
    {
        if (Volatile.Read(ref _writebackFailure) is { } failed) throw new IOException(failed);
        var directories = new List<string>();
        foreach (string directory in _touchedDirectories.Keys)
            if (_touchedDirectories.TryRemove(directory, out _)) directories.Add(directory);
        try
        {
            _fileSystemSync.Sync();
            foreach (string directory in directories) Durability.FsyncDirectory(directory);
        }
        catch (IOException e)
        {
            foreach (string directory in directories) _touchedDirectories.TryAdd(directory, 0);
            if (Interlocked.CompareExchange(ref _writebackFailure, $"{e.Message} (chunks written since the last sync may not be on disk; fsync fails until the node restarts)", null) is null)
            {
                _logger.LogError("chunks: writing chunks back to {Directory} failed: {Error}; every fsync on this node fails from now on, until it restarts", _chunkDirectory, e.Message);
            }
            throw new IOException(_writebackFailure, e);
        }
        catch
        {
            foreach (string directory in directories) _touchedDirectories.TryAdd(directory, 0);
            throw;
        }
    }
}
