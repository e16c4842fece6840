using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Membership;

/// <summary>A message between two membership machines. Everything but <see cref="Sync"/> carries piggybacked updates.</summary>
public abstract record MembershipMessage;

/// <summary>Direct probe. <paramref name="Target"/> lets a node at a reused address ignore a probe meant for someone else.</summary>
public sealed record Ping(ulong Seq, PeerId Target, IReadOnlyList<MemberUpdate> Updates) : MembershipMessage;

/// <summary>Answer to a <see cref="Ping"/>; an intermediary forwards the target's answer as an Ack carrying the requester's seq.</summary>
public sealed record Ack(ulong Seq, IReadOnlyList<MemberUpdate> Updates) : MembershipMessage;

/// <summary>Indirect probe request: "ping <paramref name="Target"/> for me and forward its Ack with my <paramref name="Seq"/>".</summary>
public sealed record PingReq(ulong Seq, PeerId Target, string TargetAddress, IReadOnlyList<MemberUpdate> Updates) : MembershipMessage;

/// <summary>
/// Lifeguard's negative acknowledgement: a relay asked to probe <c>Target</c> for us got no answer in time. It tells the
/// requester that its own request arrived and was acted on, so an indirect probe with no Ack but Nacks points at the
/// target, while one with neither points at the requester's own slowness.
/// </summary>
public sealed record Nack(ulong Seq) : MembershipMessage;

/// <summary>Updates pushed to a few random members between probes, so news does not wait for the next probe.</summary>
public sealed record Gossip(IReadOnlyList<MemberUpdate> Updates) : MembershipMessage;

/// <summary>
/// Full state exchange (push-pull): on join, and periodically with a random member (dead ones included) as
/// anti-entropy. A request (<paramref name="IsReply"/> false) is answered with the receiver's full state after merging.
/// </summary>
public sealed record Sync(bool IsReply, IReadOnlyList<MemberState> Members) : MembershipMessage;

/// <summary>One member's gossiped state inside a <see cref="Sync"/>.</summary>
public sealed record MemberState(PeerId Id, string Address, MemberStatus Status, ulong Incarnation, string Meta);

/// <summary>A change about one member, disseminated by piggyback and gossip. A newer update about the same member replaces an older one in the queue.</summary>
public abstract record MemberUpdate(PeerId Id, ulong Incarnation);

/// <summary>The member is alive at this incarnation (a join, a refutation, a metadata change, a rejoin after death).</summary>
public sealed record Alive(PeerId Id, ulong Incarnation, string Address, string Meta) : MemberUpdate(Id, Incarnation);

/// <summary><paramref name="From"/> failed to probe the member at this incarnation. Distinct senders confirm the suspicion.</summary>
public sealed record Suspect(PeerId Id, ulong Incarnation, PeerId From) : MemberUpdate(Id, Incarnation);

/// <summary><paramref name="From"/>'s suspicion of the member expired without a refutation.</summary>
public sealed record Dead(PeerId Id, ulong Incarnation, PeerId From) : MemberUpdate(Id, Incarnation);

/// <summary>The member left gracefully; its incarnation was raised for the announcement so it overrides any older state.</summary>
public sealed record Left(PeerId Id, ulong Incarnation) : MemberUpdate(Id, Incarnation);
