using MessagePack;

namespace DinoMesh.Cluster.Membership.Wire;

// The MessagePack form of the membership messages: plain records with integer keys, converted to and from the
// machine's records by MembershipWire (which also validates them). docs/protocol.md tables every key. Keys and union
// tags are never reused: a field that goes away leaves its number behind.

/// <summary>One membership message on <c>/dinomesh/membership/1</c>: a two-element array [tag, body].</summary>
[Union(0, typeof(WirePing))]
[Union(1, typeof(WireAck))]
[Union(2, typeof(WirePingReq))]
[Union(3, typeof(WireGossip))]
[Union(4, typeof(WireSync))]
[Union(5, typeof(WireNack))]
public abstract record WireMessage;

/// <summary>Direct probe. Target: PeerId, 32 bytes.</summary>
[MessagePackObject]
public sealed record WirePing(
    [property: Key(0)] ulong Seq,
    [property: Key(1)] byte[] Target,
    [property: Key(2)] WireUpdate[] Updates) : WireMessage;

/// <summary>Answer to a ping, or a relayed answer carrying the requester's seq.</summary>
[MessagePackObject]
public sealed record WireAck(
    [property: Key(0)] ulong Seq,
    [property: Key(1)] WireUpdate[] Updates) : WireMessage;

/// <summary>Indirect probe request.</summary>
[MessagePackObject]
public sealed record WirePingReq(
    [property: Key(0)] ulong Seq,
    [property: Key(1)] byte[] Target,
    [property: Key(2)] string TargetAddress,
    [property: Key(3)] WireUpdate[] Updates) : WireMessage;

/// <summary>Updates pushed between probes (and corrections, and the direct Left announcement).</summary>
[MessagePackObject]
public sealed record WireGossip(
    [property: Key(0)] WireUpdate[] Updates) : WireMessage;

/// <summary>Full state exchange; IsReply false asks for the receiver's full state back.</summary>
[MessagePackObject]
public sealed record WireSync(
    [property: Key(0)] bool IsReply,
    [property: Key(1)] WireMemberState[] Members) : WireMessage;

/// <summary>A relay's "no answer from the target" to the requester of an indirect probe (Lifeguard).</summary>
[MessagePackObject]
public sealed record WireNack(
    [property: Key(0)] ulong Seq) : WireMessage;

/// <summary>
/// One piggybacked update. Status: 0 alive, 1 suspect, 2 dead, 3 left. Alive carries Address and Meta; Suspect and
/// Dead carry From (32 bytes); the fields an update kind does not use are empty.
/// </summary>
[MessagePackObject]
public sealed record WireUpdate(
    [property: Key(0)] byte Status,
    [property: Key(1)] byte[] Id,
    [property: Key(2)] ulong Incarnation,
    [property: Key(3)] string Address,
    [property: Key(4)] string Meta,
    [property: Key(5)] byte[] From);

/// <summary>One member's gossiped state in a full-state sync.</summary>
[MessagePackObject]
public sealed record WireMemberState(
    [property: Key(0)] byte[] Id,
    [property: Key(1)] string Address,
    [property: Key(2)] byte Status,
    [property: Key(3)] ulong Incarnation,
    [property: Key(4)] string Meta);
