using System.Text;
using DinoMesh.Core.Wire;
using MessagePack;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// A directory entry name: arbitrary bytes except '/' and NUL, at most 255 of them. Kept as a Latin-1 string so every
/// byte maps to one char (lossless for names that are not UTF-8) and ordinal order is byte order.
/// </summary>
[MessagePackFormatter(typeof(FileNameFormatter))]
public readonly record struct FileName : IComparable<FileName>
{
    public const int MaxBytes = 255;

    private readonly string _latin1;

    private FileName(string latin1) => _latin1 = latin1;

    public static FileName FromBytes(ReadOnlySpan<byte> bytes) => new(Encoding.Latin1.GetString(bytes));

    /// <summary>For tests and tools: a UTF-8 name.</summary>
    public static FileName FromString(string name) => FromBytes(Encoding.UTF8.GetBytes(name));

    public int ByteLength => _latin1?.Length ?? 0;

    public byte[] ToBytes() => Encoding.Latin1.GetBytes(_latin1 ?? "");

    public void CopyTo(Span<byte> destination) => Encoding.Latin1.GetBytes(_latin1 ?? "", destination);

    /// <summary>Names the kernel would never send us but a peer might: empty, ".", "..", or containing '/' or NUL.</summary>
    public FsError Validate()
    {
        var s = _latin1 ?? "";
        if (s.Length == 0 || s == "." || s == "..") return FsError.Invalid;
        if (s.Length > MaxBytes) return FsError.NameTooLong;
        return s.AsSpan().IndexOfAny('/', '\0') >= 0 ? FsError.Invalid : FsError.None;
    }

    public int CompareTo(FileName other) => string.CompareOrdinal(_latin1, other._latin1);

    public bool Equals(FileName other) => string.Equals(_latin1, other._latin1, StringComparison.Ordinal);

    public override int GetHashCode() => (_latin1 ?? "").GetHashCode(StringComparison.Ordinal);

    /// <summary>UTF-8 rendering for logs.</summary>
    public override string ToString() => Encoding.UTF8.GetString(ToBytes());

    public static bool operator <(FileName left, FileName right) => left.CompareTo(right) < 0;
    public static bool operator >(FileName left, FileName right) => left.CompareTo(right) > 0;
    public static bool operator <=(FileName left, FileName right) => left.CompareTo(right) <= 0;
    public static bool operator >=(FileName left, FileName right) => left.CompareTo(right) >= 0;
}
