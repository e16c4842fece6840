namespace DinoMesh.Storage.Chunks;

/// <summary>The outcome of a chunk read.</summary>
public enum ChunkReadStatus
{
    /// <summary>The bytes were read from a chunk whose content hashes to its id.</summary>
    Ok,
    /// <summary>The store does not hold the chunk.</summary>
    NotFound,
    /// <summary>The file did not hash to the id; it was moved to quarantine and no byte of it was returned.</summary>
    Corrupt,
    /// <summary>The file could not be read.</summary>
    Io,
}

/// <summary>How many bytes landed in the destination (0 at or past the end of the chunk), or why none did.</summary>
public readonly record struct ChunkReadResult(ChunkReadStatus Status, int BytesRead, string? Error = null)
{
    /// <summary>The read succeeded; <see cref="BytesRead"/> bytes of the destination are valid.</summary>
    public bool Succeeded => Status == ChunkReadStatus.Ok;

    internal static ChunkReadResult Ok(int bytesRead) => new(ChunkReadStatus.Ok, bytesRead);
    internal static ChunkReadResult Failed(ChunkReadStatus status, string error) => new(status, 0, error);
}
