namespace DinoMesh.Core.Metadata;

/// <summary>
/// A client's id as the op window (<see cref="FileSystemState.Clients"/>) keys it: the id's bytes, compared by content,
/// ordered as bytes (which is the order of their lowercase hex, the key the table had before). It shares the array of
/// the mutation it came from, as mutations are never changed once made; every apply looked its client up by a hex
/// string built for the purpose (about 90 bytes for a 16-byte id, on the holder's tip and on every replica).
/// </summary>
public readonly struct ClientKey : IEquatable<ClientKey>, IComparable<ClientKey>
{
    private readonly byte[] _id;

    public ClientKey(byte[] id)
    {
        ArgumentNullException.ThrowIfNull(id);
        _id = id;
    }

    public ReadOnlySpan<byte> Bytes => _id;

    public bool Equals(ClientKey other) => Bytes.SequenceEqual(other.Bytes);

    public override bool Equals(object? obj) => obj is ClientKey other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Bytes);
        return hash.ToHashCode();
    }

    public int CompareTo(ClientKey other) => Bytes.SequenceCompareTo(other.Bytes);

    /// <summary>Lowercase hex, for logs and tests.</summary>
    public override string ToString() => Convert.ToHexStringLower(Bytes);

    public static bool operator ==(ClientKey left, ClientKey right) => left.Equals(right);
    public static bool operator !=(ClientKey left, ClientKey right) => !left.Equals(right);
    public static bool operator <(ClientKey left, ClientKey right) => left.CompareTo(right) < 0;
    public static bool operator >(ClientKey left, ClientKey right) => left.CompareTo(right) > 0;
    public static bool operator <=(ClientKey left, ClientKey right) => left.CompareTo(right) <= 0;
    public static bool operator >=(ClientKey left, ClientKey right) => left.CompareTo(right) >= 0;
}
