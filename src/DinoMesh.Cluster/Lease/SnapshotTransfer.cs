using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// A snapshot the holder's driver made ready to send: the state as of <paramref name="Version"/> (of
/// <paramref name="VersionTerm"/>), encoded in <paramref name="Length"/> bytes whose SHA-256 is <paramref name="Hash"/>,
/// and the voters it names. The machine never sees the bytes: it says which range goes in each piece, and the driver
/// reads it.
/// </summary>
public sealed record SnapshotMeta(long Version, long VersionTerm, long Length, byte[] Hash, PeerId[] Voters);

/// <summary>The holder's driver sends bytes [Offset, Offset + Count) of its snapshot <see cref="Meta"/> to <see cref="Peer"/>.</summary>
public readonly record struct OutgoingPiece(PeerId Peer, long Term, SnapshotMeta Meta, long Offset, int Count)
{
    public bool Last => Offset + Count == Meta.Length;

    /// <summary>The wire message, once the driver has read <paramref name="data"/> (Count bytes from Offset).</summary>
    public SnapshotPiece ToMessage(byte[] data) =>
        new(Term, Meta.Version, Meta.VersionTerm, Meta.Length, Offset, data, Last, Last ? Meta.Hash : null, Last ? Meta.Voters : null);
}

/// <summary>
/// A follower's driver writes <see cref="Data"/> at <see cref="Offset"/> of the snapshot it assembles (offset 0 starts a
/// new one, dropping whatever it held). When <see cref="Last"/>, it then checks the whole against
/// <see cref="SnapshotId.Length"/> and <see cref="Hash"/> and tells the machine (<see cref="LeaseLog.SnapshotAssembled"/>).
/// </summary>
public sealed record ReceivedPiece(SnapshotId Id, long Offset, byte[] Data, byte[]? Hash)
{
    public bool Last => Offset + Data.Length == Id.Length;
}

/// <summary>
/// The holder's side of one transfer to one follower: <see cref="Acked"/> bytes are known to be at the follower,
/// pieces up to <see cref="Next"/> were sent. Pieces go out as acknowledgements come back, a bounded number in flight.
/// </summary>
internal sealed class SnapshotSending
{
    public SnapshotSending(SnapshotMeta meta) => Meta = meta;

    public SnapshotMeta Meta { get; set; }

    public long Acked { get; set; }

    public long Next { get; set; }

    /// <summary>Heartbeat intervals since the follower's last acknowledgement that moved <see cref="Acked"/> (or since the start).</summary>
    public int Silent { get; set; }

    public bool Is(long version, long versionTerm) => Meta.Version == version && Meta.VersionTerm == versionTerm;

    public override string ToString() => $"snapshot {Meta.Version}: {Acked}/{Meta.Length} acked, {Next} sent";
}

/// <summary>The follower's side: the snapshot it is assembling and how much of it is in (in order, no holes).</summary>
internal sealed record SnapshotAssembly(PeerId From, SnapshotId Id)
{
    public long Have { get; set; }

    /// <summary>The last piece is in; the driver is checking the whole.</summary>
    public bool Checking { get; set; }

    public PeerId[] Voters { get; set; } = [];
}
