using DinoMesh.Cluster.Membership;
using DinoMesh.Cluster.Wire;
using DinoMesh.Core.Identity;
using DinoMesh.Transport;
using DinoMesh.Transport.Join;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Node;

// Admission: who becomes a member, and how the others learn it.
public sealed partial class ClusterNode
{
    /// <summary>
    /// A newcomer showed a valid credential: admit it, tell the reachable members (so its first probes are not
    /// refused), and hand it the member list.
    /// </summary>
    private async ValueTask<JoinDecision> AdmitAsync(JoinApplicant applicant, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(applicant.Advertise)) return JoinDecision.Refuse("the joiner did not say where it can be reached (--advertise)");
        if (Admitted.IsEvicted(applicant.Peer)) return JoinDecision.Refuse("this node was removed from the cluster (dino-node remove); start it with a new data directory to join again");
        Admitted.Admit(applicant.Peer, applicant.Advertise);
        PersistPeers();
        _logger.LogInformation("admitted {Peer} at {Address} (joined with a valid credential)", applicant.Peer, applicant.Advertise);

        var notice = new AdmitNotice();
        notice.Peers.Add(new AdmittedPeer { Id = applicant.Peer.Hex, Address = applicant.Advertise });
        var body = notice.ToByteArray();
        var others = Membership.Members.Where(m => m.IsReachable && m.Id != Self && m.Id != applicant.Peer).ToList();
        await Task.WhenAll(others.Select(m => Transport.CallAsync(m.Address, m.Id, AdmitProtocol, body, _options.JoinDeadline / 2, cancellationToken)));

        var members = Admitted.Snapshot()
            .Where(p => PeerId.TryParse(p.Id, out _))
            .Select(p => new ClusterMemberInfo(new PeerId(p.Id), p.Address))
            .ToList();
        return JoinDecision.Admit(members, [.. _record.Founders.Select(f => new PeerId(f))]);
    }

    private byte[] HandleAdmit(PeerContext from, ReadOnlyMemory<byte> body)
    {
        AdmitNotice notice;
        try
        {
            notice = AdmitNotice.Parser.ParseFrom(body.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new PeerCallException(CallFailure.BadRequest, $"undecodable admit notice: {e.Message}");
        }
        var changed = false;
        foreach (var peer in notice.Peers)
        {
            if (!PeerId.TryParse(peer.Id, out var id) || peer.Address.Length > 300) throw new PeerCallException(CallFailure.BadRequest, "bad peer in admit notice");
            if (Admitted.Admit(id, peer.Address))
            {
                changed = true;
                _logger.LogInformation("{From} admitted {Peer} at {Address}", from.Peer, id, peer.Address);
            }
        }
        if (changed) PersistPeers();
        return [];
    }

    private void OnMemberEvent(MemberEvent e)
    {
        var m = e.Member;
        ClusterMetrics.MemberEvent(e.Kind);
        switch (e.Kind)
        {
            case MemberEventKind.Joined:
                _logger.LogInformation("member {Peer} at {Address} is alive (incarnation {Incarnation})", m.Id, m.Address, m.Incarnation);
                break;
            case MemberEventKind.Suspected:
                _logger.LogWarning("member {Peer} at {Address} is suspected (no answer to direct or indirect probes)", m.Id, m.Address);
                break;
            case MemberEventKind.Refuted:
                _logger.LogInformation("member {Peer} refuted the suspicion (incarnation {Incarnation})", m.Id, m.Incarnation);
                break;
            case MemberEventKind.Dead:
                _logger.LogWarning("member {Peer} at {Address} is dead (suspicion not refuted in time)", m.Id, m.Address);
                break;
            case MemberEventKind.Left:
                _logger.LogInformation("member {Peer} at {Address} left the cluster", m.Id, m.Address);
                break;
        }
        // Membership news arrives only over authenticated links from admitted members, so a member they vouch for is admitted.
        if (e.Kind is MemberEventKind.Joined or MemberEventKind.Updated && m.Id != Self && Admitted.Admit(m.Id, m.Address)) PersistPeers();
    }

    private void PersistPeers()
    {
        lock (_recordGate)
        {
            _record = _record with { Peers = Admitted.Snapshot() };
            try
            {
                _record.Save(_options.DataDirectory);
            }
            catch (IOException e)
            {
                _logger.LogError("could not save {File}: {Error}", ClusterRecord.FileName, e.Message);
            }
        }
    }

    /// <summary>Announces that this node leaves (it will be listed as left, never suspected).</summary>
    public Task LeaveAsync(CancellationToken cancellationToken) =>
        Membership.LeaveAsync(Membership.Members.Count > 1 ? Membership.Self is { } ? _options.Membership.ProbeInterval * 2 : TimeSpan.Zero : TimeSpan.Zero, cancellationToken);
}
