using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume;

// The read path over the chunk source: wait for the chunks a read needs, then copy synchronously.
public sealed partial class DinoFileSystem
{
    /// <summary>
    /// Reads bytes of a regular file: the chunks of the range are made readable here first (fetched from a peer when
    /// missing), then <see cref="FileContents.Read"/> copies them. A local copy found missing or corrupt during the copy
    /// (a corrupt one is quarantined by the store) is fetched again from a peer and the read tried once more, so a
    /// damaged local chunk heals on the read that finds it.
    /// </summary>
    private async ValueTask<(FsError Error, int Count)> ReadContentsAsync(Inode inode, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        var length = Math.Min(buffer.Length, Math.Max(0, inode.Size - offset));
        for (var attempt = 0; ; attempt++)
        {
            var prepared = await _chunks.PrepareAsync(inode.Ino, inode.Extents, offset, length, ct);
            if (prepared != FsError.None) return (prepared, 0);
            var (error, count) = _contents.Read(inode, offset, buffer.Span);
            if (error != FsError.Io || attempt > 0 || !_chunks.CanFetch) return (error, count);
        }
    }

    /// <summary>
    /// Chunks written here that no committed state references yet (staged extents awaiting their commit): garbage
    /// collection keeps them whatever their age.
    /// </summary>
    public IReadOnlySet<ChunkId> StagedChunks()
    {
        var chunks = _contents.StagedChunks();
        // A compaction's chunk between its store and its commit is in the same position.
        _compactor.AddStoring(chunks);
        return chunks;
    }
}
