using DinoMesh.Core.Identity;
using MessagePack;

namespace DinoMesh.Core.Metadata;

// Mutations about the volume and the cluster rather than one file.

/// <summary>
/// The first entry of every log: the volume's id, the founding member, and (through the mutation's time) the root's
/// times. Two nodes replaying one log therefore get the same root without any node-local setting.
/// </summary>
[MessagePackObject]
public sealed record Genesis(
    [property: Key(0)] byte[] VolumeId,
    [property: Key(1)] PeerId Founder) : MutationKind;

/// <summary>An entry that changes nothing: a new lease holder commits one in its own term before anything else.</summary>
[MessagePackObject]
public sealed record Noop : MutationKind;

/// <summary>
/// The proposer holds no handle on these orphans (any more). An orphan (no links left) is dropped once no member may
/// still hold it open.
/// </summary>
[MessagePackObject]
public sealed record ReleaseOrphans([property: Key(0)] ulong[] Inos) : MutationKind;

/// <summary>A node becomes a member: its certificate is accepted from this version on.</summary>
[MessagePackObject]
public sealed record AdmitMember(
    [property: Key(0)] PeerId Member,
    [property: Key(1)] string Address) : MutationKind;

/// <summary>
/// A member is evicted (or left for good): refused from this version on, released from every orphan, and out of the
/// voters if it was one (the last voter cannot be removed).
/// </summary>
[MessagePackObject]
public sealed record RemoveMember([property: Key(0)] PeerId Member) : MutationKind;

/// <summary>The set of voters that elect the lease holder (at most five; changed one member at a time).</summary>
[MessagePackObject]
public sealed record SetVoters([property: Key(0)] PeerId[] Voters) : MutationKind;
