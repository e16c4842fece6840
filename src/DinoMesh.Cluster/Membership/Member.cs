using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Membership;

/// <summary>
/// One node's view of one member: the gossiped state (address, status, incarnation, metadata) plus local
/// observations that never leave this node (when we last heard from it, the last direct probe round trip).
/// Immutable: the membership machine replaces the record on every change, so a snapshot stays valid.
/// </summary>
/// <param name="Id">The member's identity.</param>
/// <param name="Address">Where to reach it, "host:port".</param>
/// <param name="Status">What this node currently believes about it.</param>
/// <param name="Incarnation">Only the member itself raises this (to refute a suspicion, to leave, to change its metadata).</param>
/// <param name="Meta">Opaque metadata the member gossips about itself (e.g. its role).</param>
/// <param name="StatusSince">When this node last changed <paramref name="Status"/> (machine time); drives pruning.</param>
/// <param name="LastHeard">When this node last received any membership message from it, if ever.</param>
/// <param name="RoundTrip">Round trip of the last direct probe it answered, if any.</param>
public sealed record Member(
    PeerId Id,
    string Address,
    MemberStatus Status,
    ulong Incarnation,
    string Meta,
    TimeSpan StatusSince,
    TimeSpan? LastHeard = null,
    TimeSpan? RoundTrip = null)
{
    /// <summary>True for members we probe and gossip to: alive or only suspected.</summary>
    public bool IsReachable => Status is MemberStatus.Alive or MemberStatus.Suspect;

    /// <summary>The gossiped part of this record, as sent in a full-state <see cref="Sync"/>.</summary>
    public MemberState ToState() => new(Id, Address, Status, Incarnation, Meta);
}
