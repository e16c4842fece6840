using System.Buffers.Binary;
using System.Security.Cryptography;
using DinoMesh.Core.Wire;
using MessagePack;

namespace DinoMesh.Core.Identity;

/// <summary>
/// A node's identity: the SHA-256 of its public key (DER SubjectPublicKeyInfo). Stable for the life of the node's key.
/// Displayed in a short form (first 12 hex characters) like a git object id.
/// </summary>
/// <remarks>
/// Held as the hash's 32 bytes in four big-endian words, not as text: every mutation, lease message and membership
/// update carries one, and decoding them must not allocate a string each time. Comparing the words in order is the
/// same order as comparing the lowercase hex, which the lease and placement rules rely on.
/// </remarks>
[MessagePackFormatter(typeof(PeerIdFormatter))]
public readonly struct PeerId : IEquatable<PeerId>, IComparable<PeerId>
{
    public const int Size = 32;
    public const int ShortLength = 12;

    private readonly ulong _w0, _w1, _w2, _w3;
    private readonly bool _set;

    /// <summary>The PeerId written as 64 hex digits; anything else is refused.</summary>
    public PeerId(string hex)
    {
        if (hex is null || hex.Length != Size * 2) throw new ArgumentException($"a PeerId is {Size * 2} hex digits", nameof(hex));
        Span<byte> bytes = stackalloc byte[Size];
        if (Convert.FromHexString(hex, bytes, out _, out var written) != System.Buffers.OperationStatus.Done || written != Size)
        {
            throw new ArgumentException($"'{hex}' is not a PeerId", nameof(hex));
        }
        this = FromBytes(bytes);
    }

    private PeerId(ulong w0, ulong w1, ulong w2, ulong w3)
    {
        (_w0, _w1, _w2, _w3, _set) = (w0, w1, w2, w3, true);
    }

    /// <summary>The PeerId whose hash is these 32 bytes.</summary>
    public static PeerId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size) throw new ArgumentException($"a PeerId is {Size} bytes", nameof(bytes));
        return new PeerId(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));
    }

    public static PeerId FromPublicKey(ReadOnlySpan<byte> subjectPublicKeyInfo)
    {
        Span<byte> hash = stackalloc byte[Size];
        SHA256.HashData(subjectPublicKeyInfo, hash);
        return FromBytes(hash);
    }

    /// <summary>Parses the 64 lowercase hex digits the product prints (and nothing else).</summary>
    public static bool TryParse(string? text, out PeerId id)
    {
        id = default;
        if (text is null || text.Length != Size * 2) return false;
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        }
        id = new PeerId(text);
        return true;
    }

    public bool IsEmpty => !_set;

    /// <summary>The hash's first 8 bytes as a number: already uniform, a key for hashing schemes.</summary>
    public ulong Prefix => _w0;

    /// <summary>Writes the 32 bytes into <paramref name="destination"/>; an empty id writes nothing and returns false.</summary>
    public bool TryWriteBytes(Span<byte> destination)
    {
        if (!_set) return false;
        if (destination.Length < Size) throw new ArgumentException($"a PeerId needs {Size} bytes", nameof(destination));
        BinaryPrimitives.WriteUInt64BigEndian(destination, _w0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _w1);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _w2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _w3);
        return true;
    }

    /// <summary>The 32 bytes (none for an empty id).</summary>
    public byte[] ToBytes()
    {
        if (!_set) return [];
        var bytes = new byte[Size];
        TryWriteBytes(bytes);
        return bytes;
    }

    /// <summary>64 lowercase hex digits ("" for an empty id). Allocates: for display and records, not hot paths.</summary>
    public string Hex
    {
        get
        {
            if (!_set) return "";
            Span<byte> bytes = stackalloc byte[Size];
            TryWriteBytes(bytes);
            return Convert.ToHexStringLower(bytes);
        }
    }

    public string Short => IsEmpty ? "" : Hex[..ShortLength];

    public override string ToString() => Short;

    public bool Equals(PeerId other) =>
        _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3 && _set == other._set;

    public override bool Equals(object? obj) => obj is PeerId other && Equals(other);

    // The words are a cryptographic hash: any of them is a good hash code.
    public override int GetHashCode() => (int)_w0 ^ (int)(_w0 >> 32);

    public int CompareTo(PeerId other)
    {
        if (_set != other._set) return _set ? 1 : -1;
        var c = _w0.CompareTo(other._w0);
        if (c != 0) return c;
        c = _w1.CompareTo(other._w1);
        if (c != 0) return c;
        c = _w2.CompareTo(other._w2);
        return c != 0 ? c : _w3.CompareTo(other._w3);
    }

    public static bool operator ==(PeerId left, PeerId right) => left.Equals(right);
    public static bool operator !=(PeerId left, PeerId right) => !left.Equals(right);
    public static bool operator <(PeerId left, PeerId right) => left.CompareTo(right) < 0;
    public static bool operator >(PeerId left, PeerId right) => left.CompareTo(right) > 0;
    public static bool operator <=(PeerId left, PeerId right) => left.CompareTo(right) <= 0;
    public static bool operator >=(PeerId left, PeerId right) => left.CompareTo(right) >= 0;
}
