using DinoMesh.Storage.Native;

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
    /// writeback error: the caller must then treat the data as not durable (EIO to fsync).
    /// </summary>
    public void SyncAll() => Durability.SyncFileSystem(_chunkDirectory);
}
