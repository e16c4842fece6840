using DinoMesh.Transport.Messages;
using MessagePack;

namespace DinoMesh.Transport.Wire;

// The join handshake on /dinomesh/join/1 (see docs/protocol.md for the table of keys). Keys are positions in a
// MessagePack array: a later version may append keys, and never reuses or renumbers one.

/// <summary>
/// /dinomesh/join/1 request. The join secret never travels: <see cref="Proof"/> is
/// HMAC-SHA256(secret, "dinomesh-join-1/joiner|" + cluster hex + "|" + joiner PeerId hex + "|"), bound to the
/// joiner's TLS identity, so a man in the middle cannot relay it to a real member.
/// </summary>
/// <param name="ClusterId">16 bytes, from the join token.</param>
/// <param name="Proof">32 bytes.</param>
/// <param name="Advertise">host:port where the joiner accepts peer connections.</param>
[MessagePackObject]
public sealed record JoinRequest(
    [property: Key(0)] byte[] ClusterId,
    [property: Key(1)] byte[] Proof,
    [property: Key(2)] string Advertise) : IPeerMessage
{
    public string? Validate() =>
        ClusterId is null ? "no cluster id"
        : Proof is null ? "no proof"
        : Advertise is null ? "no advertised address"
        : null;
}

/// <summary>A cluster member as the join response lists it.</summary>
/// <param name="Peer">The member's PeerId as 32 raw bytes (SHA-256 of its public key).</param>
/// <param name="Address">host:port.</param>
[MessagePackObject]
public sealed record ClusterMember(
    [property: Key(0)] byte[] Peer,
    [property: Key(1)] string Address);

/// <summary>/dinomesh/join/1 response, sent only when the join was accepted (a refusal is HTTP 403).</summary>
/// <param name="ClusterId">16 bytes: the cluster the member belongs to.</param>
/// <param name="MemberProof">HMAC-SHA256(secret, "dinomesh-join-1/member|" + cluster hex + "|" + member hex + "|" + joiner hex).</param>
/// <param name="Members">The cluster as the answering member knows it.</param>
/// <param name="Founders">PeerIds (32 raw bytes each) of the founding members.</param>
/// <param name="AdmittedAt">
/// The metadata log version at which the joiner's admission was committed, and <paramref name="Members"/> holds every
/// member admitted up to it; 0 when the member could not commit it (no lease yet) or predates this key. Added later:
/// a response without it decodes as 0.
/// </param>
[MessagePackObject]
public sealed record JoinResponse(
    [property: Key(0)] byte[] ClusterId,
    [property: Key(1)] byte[] MemberProof,
    [property: Key(2)] ClusterMember[] Members,
    [property: Key(3)] byte[][] Founders,
    [property: Key(4)] long AdmittedAt = 0) : IPeerMessage
{
    public string? Validate()
    {
        if (ClusterId is null) return "no cluster id";
        if (MemberProof is null) return "no member proof";
        if (Members is null || Founders is null) return "no member or founder list";
        if (AdmittedAt < 0) return "a negative admission version";
        foreach (var m in Members)
        {
            if (m?.Peer is null || m.Address is null) return "a member without a PeerId or address";
            if (!WirePeerId.IsValid(m.Peer)) return "a member PeerId that is not 32 bytes";
        }
        foreach (var f in Founders)
        {
            if (!WirePeerId.IsValid(f)) return "a founder PeerId that is not 32 bytes";
        }
        return null;
    }
}

/// <summary>/dinomesh/ping/1, both ways: a round-trip probe; the answer echoes the nonce.</summary>
[MessagePackObject]
public sealed record Ping([property: Key(0)] ulong Nonce);
