using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Evidence that the holder's process is gone. A voter promises not to help elect another holder while it is inside the
// holder's lease, because the holder answers read-index questions from that lease: the promise is what keeps a live
// holder's answers fresh. A holder whose process no longer exists answers nothing, so the promise protects nobody, and
// on an idle log it costs 2.4-4.8 s of waiting. When the holder's heartbeat is late, the machine asks its driver to
// look (ProbeHolder in the Ready); a driver that finds nothing listening at the holder's address (the connect was
// refused: kill -9 makes the kernel close the process's listening socket, and a restarted process starts without a
// lease) reports HolderGone, and this voter then counts the lease as ended and campaigns after a short random delay.
// Pre-vote still needs a majority, and every other voter must have seen the same evidence on its own (or be out of
// its lease), so one voter's wrong evidence deposes no live holder. Only timing changes: terms, votes, the log and
// commits follow the same rules, whatever evidence arrives.
public sealed partial class LeaseLog
{
    // This voter holds evidence that the process of Holder (in Term) is gone: its lease protects nobody any more.
    private bool _holderGone;

    // A probe of Holder in Term for the driver, not yet handed out.
    private (PeerId Holder, long Term)? _probe;

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
    /// The driver found that nothing listens at <paramref name="holder"/>'s address any more (a connect was refused), in
    /// answer to a probe the machine asked for in <paramref name="term"/>. Ignored unless this node is a voter that still
    /// follows that holder in that term: evidence about an earlier term, another holder, or from a learner (learners
    /// never campaign) changes nothing. Otherwise this voter leaves the holder's lease (it no longer refuses votes for
    /// the holder's sake) and campaigns, pre-vote first, within <see cref="LeaseConfig.HolderGoneCampaignTicks"/>.
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
        if (!ProbesHolder) return;
        var first = ProbeFirstTicks;
        if (_electionElapsed < first || (_electionElapsed - first) % ProbeIntervalTicks != 0) return;
        _probe = (Holder, Term);
    }

    /// <summary>This node probes its holder when it is late: a voter following a holder it holds no evidence about.</summary>
    private bool ProbesHolder => _config.ProbeHolder && !Holder.IsEmpty && !_holderGone && Role is LeaseRole.Voter && Voters.Contains(Self);

    private int ProbeIntervalTicks => _config.HeartbeatTicks * LeaseScale;

    private int ProbeFirstTicks => ProbeIntervalTicks + _config.HeartbeatTicks;

    /// <summary>Ticks from now to the next probe (for <see cref="TicksUntilDue"/>), or int.MaxValue when none is due.</summary>
    private int TicksUntilProbe()
    {
        if (!ProbesHolder) return int.MaxValue;
        var first = ProbeFirstTicks;
        if (_electionElapsed < first) return first - _electionElapsed;
        var interval = ProbeIntervalTicks;
        var since = (_electionElapsed - first) % interval;
        return since == 0 ? interval : interval - since;
    }

    /// <summary>This node heard from its holder: any evidence that it was gone was wrong (or is out of date).</summary>
    private void HeardFromHolder()
    {
        _electionElapsed = 0;
        _probe = null;
        _quickCampaigns = 0;
        if (!_holderGone) return;
        _holderGone = false;
        ResetElectionTimeout();
    }
}
