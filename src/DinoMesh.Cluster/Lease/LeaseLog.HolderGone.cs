using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Evidence that a peer's process is gone. A voter promises not to help elect another holder while it is inside the
// holder's lease, because the holder answers read-index questions from that lease: the promise is what keeps a live
// holder's answers fresh. A holder whose process no longer exists answers nothing, so the promise protects nobody, and
// on an idle log it costs 2.4-4.8 s of waiting. When the holder's heartbeat is late, the machine asks its driver to
// look (Probes in the Ready); a driver that finds nothing listening at the holder's address (the connect was refused:
// kill -9 makes the kernel close the process's listening socket, and a restarted process starts without a lease)
// reports PeerGone, and this voter then counts the lease as ended and campaigns after a short random delay. Pre-vote
// still needs a majority, and every other voter must have seen the same evidence on its own (or be out of its lease),
// so one voter's wrong evidence deposes no live holder.
//
// The holder looks the same way at voters whose answers are late, and steps down at once when fewer than a majority
// of voters (itself included) are left whose processes are not known to be gone. That is what a firewall that rejects
// instead of dropping (the one thing that forges the evidence) does to both sides of a cut at the same time: the voters
// that find the holder "gone" are matched by a holder that finds them gone and stops answering from its lease, instead
// of waiting out a check-quorum window of up to 4.8 s. Only timing changes: terms, votes, the log and commits follow
// the same rules, whatever evidence arrives.
public sealed partial class LeaseLog
{
    // This voter holds evidence that the process of Holder (in Term) is gone: its lease protects nobody any more.
    private bool _holderGone;

    // Probes for the driver (peer, term), not yet handed out.
    private readonly List<(PeerId Peer, long Term)> _probes = [];

    // Election timeouts still to draw from the short holder-gone range: the first campaign after the evidence and a
    // couple of retries after a split vote, until some holder is known again. Then the normal range.
    private int _quickCampaigns;

    /// <summary>Campaigns drawn from the short range after holder-gone evidence: the first one and two retries.</summary>
    private const int QuickCampaigns = 3;

    /// <summary>
    /// True while this voter counts the lease of <see cref="Holder"/> as ended on evidence that its process is gone
    /// (<see cref="HolderGone"/>), until it hears from a holder again or follows another term.
    /// </summary>
    public bool HolderGoneSeen => _holderGone && !IsHolder;

    /// <summary>
    /// The driver found that nothing listens at <paramref name="peer"/>'s address any more (a connect was refused), in
    /// answer to a probe the machine asked for in <paramref name="term"/>: on a follower, evidence about its holder
    /// (<see cref="HolderGone"/>); on the holder, about one of its voters (<see cref="VoterGone"/>).
    /// </summary>
    public void PeerGone(PeerId peer, long term)
    {
        if (IsHolder) VoterGone(peer, term);
        else HolderGone(peer, term);
    }

    /// <summary>
    /// Evidence that <paramref name="holder"/>'s process is gone. Ignored unless this node is a voter that still follows
    /// that holder in <paramref name="term"/>: evidence about an earlier term, another node, or given to a learner
    /// (learners never campaign) changes nothing. Otherwise this voter leaves the holder's lease (it no longer refuses
    /// votes for the holder's sake) and campaigns, pre-vote first, within <see cref="LeaseConfig.HolderGoneCampaignTicks"/>.
    /// </summary>
    public void HolderGone(PeerId holder, long term)
    {
        if (holder.IsEmpty || holder != Holder || term != Term || IsHolder || _holderGone) return;
        if (Role is not LeaseRole.Voter || !Voters.Contains(Self)) return;
        _holderGone = true;
        // The idle pace was the holder's promise to renew slowly; with the holder gone it is void.
        _holderIdle = false;
        _electionElapsed = 0;
        _quickCampaigns = QuickCampaigns;
        ResetElectionTimeout();
    }

    /// <summary>
    /// Evidence, on the holder, that the process of <paramref name="voter"/> is gone (ignored for another term, a
    /// learner, or a voter heard from since). When fewer than a majority of voters, this one included, are left that
    /// are not known to be gone, the holder steps down at once: it can commit nothing, and the voters that the same
    /// refusals may have convinced that it is gone must not find it still answering from its lease.
    /// </summary>
    public void VoterGone(PeerId voter, long term)
    {
        if (!IsHolder || term != Term || voter == Self || !Voters.Contains(voter) || !_progress.TryGetValue(voter, out var p) || p.Gone) return;
        p.Gone = true;
        var left = Voters.Voters.Count(v => v == Self || !_progress.TryGetValue(v, out var q) || !q.Gone);
        if (left < Voters.Quorum) BecomeFollower(Term, default);
    }

    /// <summary>
    /// The next election timeout after holder-gone evidence: short and randomized, so that the survivors, which all see
    /// the same evidence at about the same time, campaign soon and rarely in the same tick (two that do split the vote,
    /// and retry as soon); null when the normal range applies.
    /// </summary>
    private int? QuickElectionTimeout()
    {
        if (_quickCampaigns <= 0) return null;
        _quickCampaigns--;
        return 1 + _random.Next(_config.HolderGoneCampaignTicks);
    }

    /// <summary>
    /// At a follower's tick: a voter that follows a holder and has heard nothing for a heartbeat interval (at the pace in
    /// force) plus one normal heartbeat asks the driver to look for the holder's process, and again every interval
    /// after that while the silence lasts. A holder that is alive renews before the first probe, so a healthy cluster
    /// makes none.
    /// </summary>
    private void MaybeProbeHolder()
    {
        if (ProbesHolder && ProbeDue(_electionElapsed, ProbeIntervalTicks)) _probes.Add((Holder, Term));
    }

    /// <summary>
    /// At the holder's tick: a voter whose answers are late by the same measure (its holder's heartbeat interval plus
    /// one normal heartbeat) is looked for, and again every interval while it stays silent.
    /// </summary>
    private void MaybeProbeVoters()
    {
        if (!_config.ProbeSilentPeers) return;
        foreach (var voter in Voters.Voters)
        {
            if (voter == Self || !_progress.TryGetValue(voter, out var p)) continue;
            p.Silent++;
            if (!p.Gone && ProbeDue(p.Silent, HeartbeatInterval)) _probes.Add((voter, Term));
        }
    }

    /// <summary>This node probes its holder when it is late: a voter following a holder it holds no evidence about.</summary>
    private bool ProbesHolder => _config.ProbeSilentPeers && !Holder.IsEmpty && !_holderGone && Role is LeaseRole.Voter && Voters.Contains(Self);

    /// <summary>A follower's view of the holder's heartbeat interval now.</summary>
    private int ProbeIntervalTicks => _config.HeartbeatTicks * LeaseScale;

    private bool ProbeDue(int silent, int interval)
    {
        var first = interval + _config.HeartbeatTicks;
        return silent >= first && (silent - first) % interval == 0;
    }

    /// <summary>Ticks until <paramref name="silent"/> reaches the next probe point.</summary>
    private int TicksUntilProbe(int silent, int interval)
    {
        var first = interval + _config.HeartbeatTicks;
        if (silent < first) return first - silent;
        var since = (silent - first) % interval;
        return since == 0 ? interval : interval - since;
    }

    /// <summary>Ticks from now to the next probe (for <see cref="TicksUntilDue"/>), or int.MaxValue when none is due.</summary>
    private int TicksUntilProbe()
    {
        if (IsHolder)
        {
            if (!_config.ProbeSilentPeers) return int.MaxValue;
            var due = int.MaxValue;
            foreach (var voter in Voters.Voters)
            {
                if (voter != Self && _progress.TryGetValue(voter, out var p) && !p.Gone) due = Math.Min(due, TicksUntilProbe(p.Silent, HeartbeatInterval));
            }
            return due;
        }
        return ProbesHolder ? TicksUntilProbe(_electionElapsed, ProbeIntervalTicks) : int.MaxValue;
    }

    /// <summary>This node heard from its holder: any evidence that it was gone was wrong (or is out of date).</summary>
    private void HeardFromHolder()
    {
        _electionElapsed = 0;
        _probes.Clear();
        _quickCampaigns = 0;
        if (!_holderGone) return;
        _holderGone = false;
        ResetElectionTimeout();
    }
}
