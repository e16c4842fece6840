using DinoMesh.Storage.Native;

namespace DinoMesh.Storage.Chunks;

public sealed partial class ChunkStore
{
    /// <summary>
    /// Makes every chunk stored (and deleted) before the call durable against power loss: one syncfs(2) for the whole
    /// filesystem — a single device flush however many chunks were written — then an fsync of each directory whose
    /// entries changed. Throws <see cref="IOException"/> when the kernel reports a writeback error: the caller must
    /// then treat the data as not durable (EIO to fsync).
    /// </summary>
    public void SyncAll()
    {
        var directories = new List<string>();
        foreach (string directory in _touchedDirectories.Keys)
            if (_touchedDirectories.TryRemove(directory, out _)) directories.Add(directory);
        try
        {
            Durability.SyncFileSystem(_chunkDirectory);
            foreach (string directory in directories) Durability.FsyncDirectory(directory);
        }
        catch
        {
            foreach (string directory in directories) _touchedDirectories.TryAdd(directory, 0);
            throw;
        }
    }
}
