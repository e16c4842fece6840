using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Chunks;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Volume;

/// <summary>
/// The volume's door to chunk bytes: the local store today; the place where a miss will turn into a fetch from a
/// peer. Storage outcomes become errno-shaped <see cref="FsError"/>s here and nowhere else.
/// </summary>
public sealed class ChunkAccess
{
    private readonly ChunkStore _store;
    private readonly ILogger _logger;

    public ChunkAccess(ChunkStore store, ILogger logger)
    {
        _store = store;
        _logger = logger;
    }

    public (FsError Error, ChunkId Id) Store(ReadOnlySpan<byte> content)
    {
        var result = _store.Put(content);
        VolumeMetrics.ChunkWritten(result.Status == ChunkWriteStatus.AlreadyPresent ? "deduplicated" : result.Succeeded ? "stored" : "failed", content.Length);
        if (result.Succeeded) return (FsError.None, result.Id);
        _logger.LogError("chunk write failed: {Status} {Error}", result.Status, result.Error);
        return (result.Status == ChunkWriteStatus.NoSpace ? FsError.NoSpace : FsError.Io, default);
    }

    /// <summary>Fills all of <paramref name="destination"/> from the chunk; a missing, short or corrupt chunk is EIO.</summary>
    public FsError Load(ChunkId id, long offset, Span<byte> destination)
    {
        var result = _store.Read(id, offset, destination);
        VolumeMetrics.ChunkRead(result.Succeeded && result.BytesRead == destination.Length, destination.Length);
        if (result.Succeeded && result.BytesRead == destination.Length) return FsError.None;
        _logger.LogError("chunk {Chunk} unreadable at {Offset}+{Length}: {Status} {Error}", id, offset, destination.Length, result.Status, result.Error ?? "short chunk");
        return FsError.Io;
    }

    public (long Total, long Free) Capacity() => _store.Capacity();
}
