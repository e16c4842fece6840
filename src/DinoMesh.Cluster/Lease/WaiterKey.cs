using DinoMesh.Core.Metadata;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// An op id as the committer's key for its waiting callers: the client's bytes compared by content. A hex string of
/// them was built three times per commit (when the caller starts waiting, when the change is applied, when the wait
/// ends) only to be a key.
/// </summary>
internal readonly struct WaiterKey(byte[] client, ulong seq) : IEquatable<WaiterKey>
{
    private readonly byte[] _client = client;
    private readonly ulong _seq = seq;

    public static WaiterKey Of(OpId op) => new(op.Client, op.Seq);

    public bool Equals(WaiterKey other) => _seq == other._seq && _client.AsSpan().SequenceEqual(other._client);

    public override bool Equals(object? obj) => obj is WaiterKey other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(_seq);
        hash.AddBytes(_client);
        return hash.ToHashCode();
    }
}
