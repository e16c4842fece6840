using System.Diagnostics.CodeAnalysis;

namespace DinoMesh.Core.Chunks;

/// <summary>
/// Bytes whose SHA-256 was checked against their id. The only way to make one is to hash (<see cref="Of"/>) or to
/// compare (<see cref="TryVerify"/>), so a store that takes a <see cref="VerifiedChunk"/> can write it without hashing
/// it again: bytes from a peer are hashed exactly once on their way to disk and to the reader.
/// </summary>
public readonly struct VerifiedChunk
{
    private VerifiedChunk(ChunkId id, ReadOnlyMemory<byte> bytes)
    {
        Id = id;
        Bytes = bytes;
    }

    public ChunkId Id { get; }

    /// <summary>The chunk's content. The owner must not change the memory while the value is in use.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    public int Length => Bytes.Length;

    /// <summary>Names content by its hash (new data: the id is whatever the bytes hash to).</summary>
    public static VerifiedChunk Of(ReadOnlyMemory<byte> content) => new(ChunkId.Of(content.Span), content);

    /// <summary>True when <paramref name="bytes"/> hash to <paramref name="id"/> (bytes from elsewhere: a peer, a cache).</summary>
    public static bool TryVerify(ChunkId id, ReadOnlyMemory<byte> bytes, [NotNullWhen(true)] out VerifiedChunk? chunk)
    {
        chunk = ChunkId.Of(bytes.Span) == id ? new VerifiedChunk(id, bytes) : null;
        return chunk is not null;
    }
}
