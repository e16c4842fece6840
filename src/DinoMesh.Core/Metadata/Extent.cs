using DinoMesh.Core.Chunks;
using DinoMesh.Core.Wire;
using MessagePack;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// Bytes [Offset, Offset+Length) of a file are bytes [ChunkOffset, ChunkOffset+Length) of Chunk — or, for a small
/// write, of <see cref="Inline"/>, bytes carried in the metadata itself (no chunk file to create, fetch or replicate).
/// </summary>
[MessagePackFormatter(typeof(ExtentFormatter))]
public readonly record struct Extent(long Offset, long Length, ChunkId Chunk, long ChunkOffset, byte[]? Inline = null)
{
    /// <summary>Largest piece stored inline rather than as a chunk.</summary>
    public const int MaxInline = 4096;

    public long End => Offset + Length;

    /// <summary>The part of this extent inside [from, to), or null when they do not overlap.</summary>
    public Extent? Clip(long from, long to)
    {
        var start = Math.Max(from, Offset);
        var end = Math.Min(to, End);
        if (start >= end) return null;
        return new Extent(start, end - start, Chunk, ChunkOffset + (start - Offset), Inline);
    }
}
