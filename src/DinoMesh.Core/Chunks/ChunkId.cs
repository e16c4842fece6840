using System.Buffers.Binary;
using System.Security.Cryptography;
using DinoMesh.Core.Wire;
using MessagePack;

namespace DinoMesh.Core.Chunks;

/// <summary>The SHA-256 of a chunk's bytes. Equal content, equal id, on every node.</summary>
[MessagePackFormatter(typeof(ChunkIdFormatter))]
public readonly struct ChunkId : IEquatable<ChunkId>
{
    public const int Size = 32;

    private readonly ulong _a, _b, _c, _d;

    private ChunkId(ReadOnlySpan<byte> hash)
    {
        _a = BinaryPrimitives.ReadUInt64BigEndian(hash);
        _b = BinaryPrimitives.ReadUInt64BigEndian(hash[8..]);
        _c = BinaryPrimitives.ReadUInt64BigEndian(hash[16..]);
        _d = BinaryPrimitives.ReadUInt64BigEndian(hash[24..]);
    }

    public static ChunkId Of(ReadOnlySpan<byte> content)
    {
        Span<byte> hash = stackalloc byte[Size];
        SHA256.HashData(content, hash);
        return new ChunkId(hash);
    }

    public static ChunkId FromBytes(ReadOnlySpan<byte> hash)
    {
        if (hash.Length != Size) throw new ArgumentException($"a chunk id is {Size} bytes, got {hash.Length}", nameof(hash));
        return new ChunkId(hash);
    }

    public static bool TryParse(string hex, out ChunkId id)
    {
        id = default;
        if (hex.Length != Size * 2) return false;
        Span<byte> bytes = stackalloc byte[Size];
        if (Convert.FromHexString(hex, bytes, out _, out var written) != System.Buffers.OperationStatus.Done || written != Size) return false;
        id = new ChunkId(bytes);
        return true;
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _a);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _d);
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[Size];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>Lower-case hex, 64 characters: the chunk's file name in the store.</summary>
    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Size];
        WriteTo(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    public bool Equals(ChunkId other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;
    public override bool Equals(object? obj) => obj is ChunkId other && Equals(other);
    public override int GetHashCode() => (int)_a ^ (int)(_a >> 32);
    public static bool operator ==(ChunkId left, ChunkId right) => left.Equals(right);
    public static bool operator !=(ChunkId left, ChunkId right) => !left.Equals(right);
}
