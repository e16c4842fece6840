using DinoMesh.Core.Chunks;

namespace DinoMesh.Storage.Chunks;

/// <summary>The outcome of a chunk write.</summary>
public enum ChunkWriteStatus
{
    /// <summary>The chunk was written and is now in the store.</summary>
    Stored,
    /// <summary>The store already held the chunk; nothing was written.</summary>
    AlreadyPresent,
    /// <summary>The filesystem is full (ENOSPC or EDQUOT). Nothing partial was left behind.</summary>
    NoSpace,
    /// <summary>Any other I/O failure. Nothing partial was left behind.</summary>
    Io,
}

/// <summary>The id of the chunk and what happened to it; <see cref="Error"/> explains a failure.</summary>
public readonly record struct ChunkWriteResult(ChunkId Id, ChunkWriteStatus Status, string? Error = null)
{
    /// <summary>The chunk is in the store (written now or before).</summary>
    public bool Succeeded => Status is ChunkWriteStatus.Stored or ChunkWriteStatus.AlreadyPresent;
}
