using System.Net;
using DinoMesh.Core.Identity;

namespace DinoMesh.Transport.Join;

/// <summary>A cluster member as the join protocol reports it.</summary>
public sealed record ClusterMemberInfo(PeerId Peer, string Address);

/// <summary>A peer asking to join, after its credential checked out.</summary>
/// <param name="Peer">Its PeerId (proven by its TLS certificate).</param>
/// <param name="Advertise">Where it accepts peer connections.</param>
/// <param name="RemoteEndPoint">Where its connection came from.</param>
public sealed record JoinApplicant(PeerId Peer, string Advertise, IPEndPoint? RemoteEndPoint);

/// <summary>The node's answer to a join: admit (after recording the peer in the committed membership) or refuse.</summary>
/// <param name="AdmittedAt">The log version of the newcomer's committed admission (0: not committed); <paramref name="Members"/> holds every member up to it.</param>
public sealed record JoinDecision(bool Accepted, string Reason, IReadOnlyList<ClusterMemberInfo> Members, IReadOnlyList<PeerId> Founders, long AdmittedAt = 0)
{
    public static JoinDecision Admit(IReadOnlyList<ClusterMemberInfo> members, IReadOnlyList<PeerId> founders, long admittedAt = 0) => new(true, "", members, founders, admittedAt);

    public static JoinDecision Refuse(string reason) => new(false, reason, [], []);
}

/// <summary>
/// The node's side of a join: called once the applicant's credential is valid. It should make the applicant a
/// member (so <see cref="IAdmission.IsAdmitted"/> says yes from then on) and return the cluster as it stands.
/// </summary>
public delegate ValueTask<JoinDecision> JoinAdmitter(JoinApplicant applicant, CancellationToken ct);

/// <summary>What a successful join tells the joiner.</summary>
/// <param name="ClusterIdHex">The cluster joined.</param>
/// <param name="Member">The member that answered (proved it knows the join secret).</param>
/// <param name="Members">The cluster's members as that member knows them.</param>
/// <param name="Founders">The founding members' PeerIds, to verify the peers the joiner talks to.</param>
/// <param name="AdmittedAt">The log version at which the joiner's admission was committed (0: unknown); <paramref name="Members"/> holds every member up to it.</param>
public sealed record JoinResult(string ClusterIdHex, PeerId Member, IReadOnlyList<ClusterMemberInfo> Members, IReadOnlyList<PeerId> Founders, long AdmittedAt = 0);
