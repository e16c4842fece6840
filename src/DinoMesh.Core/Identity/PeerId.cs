using System.Security.Cryptography;
using DinoMesh.Core.Wire;
using MessagePack;

namespace DinoMesh.Core.Identity;

/// <summary>
/// A node's identity: the SHA-256 of its public key (DER SubjectPublicKeyInfo). Stable for the life of the node's key.
/// Displayed in a short form (first 12 hex characters) like a git object id.
/// </summary>
[MessagePackFormatter(typeof(PeerIdFormatter))]
public readonly record struct PeerId(string Hex) : IComparable<PeerId>
{
    public const int ShortLength = 12;

    public static PeerId FromPublicKey(ReadOnlySpan<byte> subjectPublicKeyInfo) =>
        new(Convert.ToHexStringLower(SHA256.HashData(subjectPublicKeyInfo)));

    public static bool TryParse(string? text, out PeerId id)
    {
        id = default;
        if (text is null || text.Length != 64) return false;
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        }
        id = new PeerId(text);
        return true;
    }

    public bool IsEmpty => string.IsNullOrEmpty(Hex);

    public string Short => IsEmpty ? "" : Hex[..ShortLength];

    public override string ToString() => Short;

    public int CompareTo(PeerId other) => string.CompareOrdinal(Hex, other.Hex);

    public static bool operator <(PeerId left, PeerId right) => left.CompareTo(right) < 0;
    public static bool operator >(PeerId left, PeerId right) => left.CompareTo(right) > 0;
    public static bool operator <=(PeerId left, PeerId right) => left.CompareTo(right) <= 0;
    public static bool operator >=(PeerId left, PeerId right) => left.CompareTo(right) >= 0;
}
