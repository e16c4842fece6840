using System.Buffers.Binary;
using System.Security.Cryptography;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// A fingerprint of a run of extents, the condition of <see cref="CompactExtents"/>: SHA-256 over, for each extent in
/// order, its offset, length, chunk offset (little-endian 64-bit) and a tag byte followed by either the chunk id or the
/// inline bytes (length-prefixed). Any write into the range changes an extent's offset, length, chunk or bytes, so the
/// digest the compactor took no longer matches. Only the extents' identities are hashed, never file bytes from a
/// store, so every node computes the same value from the same state.
/// </summary>
public static class ExtentDigest
{
    public const int Size = 32;

    public static byte[] Of(IEnumerable<Extent> extents)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> fields = stackalloc byte[3 * sizeof(long) + 1 + sizeof(int)];
        foreach (var e in extents)
        {
            BinaryPrimitives.WriteInt64LittleEndian(fields, e.Offset);
            BinaryPrimitives.WriteInt64LittleEndian(fields[8..], e.Length);
            BinaryPrimitives.WriteInt64LittleEndian(fields[16..], e.ChunkOffset);
            if (e.Inline is { } inline)
            {
                fields[24] = 1;
                BinaryPrimitives.WriteInt32LittleEndian(fields[25..], inline.Length);
                hash.AppendData(fields);
                hash.AppendData(inline);
            }
            else
            {
                fields[24] = 0;
                hash.AppendData(fields[..25]);
                hash.AppendData(e.Chunk.ToBytes());
            }
        }
        return hash.GetHashAndReset();
    }
}
