using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Input: clock ticks and messages, and the term rules every message goes through first.
public sealed partial class LeaseLog
{
    /// <summary>One tick of the clock.</summary>
    public void Tick()
    {
        TickGossip();
        if (IsHolder)
        {
            TickHolder();
            return;
        }
        _electionElapsed++;
        if (Role != LeaseRole.Learner && Voters.Contains(Self) && _electionElapsed >= _randomizedElectionTimeout * LeaseScale)
        {
            _electionElapsed = 0;
            Campaign(preVote: true, transfer: false);
            return;
        }
        MaybeProbeHolder();
    }

    /// <summary>A message from <paramref name="from"/>.</summary>
    public void Step(PeerId from, LeaseMessage message)
    {
        if (from == Self || from.IsEmpty) return;
        // Gossip carries committed facts only: it is handled whatever the terms, and changes none.
        switch (message)
        {
            case LogDigest d:
                HandleDigest(from, d);
                return;
            case LogPull p:
                HandlePull(from, p);
                return;
            case LogEntries e:
                HandleEntries(from, e);
                return;
        }
        if (message.Term > Term)
        {
            if (message is VoteRequest vote && !vote.Transfer && InLease)
            {
                // A holder is alive as far as this node can tell: a node that lost touch with it (a partition that
                // healed, a restart) must not depose it. Ignored without changing term.
                return;
            }
            var stepDown = message switch
            {
                VoteRequest { PreVote: true } => false,
                VoteResponse { PreVote: true, Granted: true } => false,
                _ => true,
            };
            if (stepDown)
            {
                var holder = message is Append or SnapshotPiece or TimeoutNow ? from : default;
                BecomeFollower(message.Term, holder);
            }
        }
        else if (message.Term < Term)
        {
            // A stale holder or candidate: tell it the term so it steps down (a pre-vote gets a plain refusal).
            switch (message)
            {
                case Append or SnapshotPiece:
                    Send(from, new AppendResponse(Term, false, LastVersion, _synced, Life));
                    break;
                case VoteRequest v:
                    Send(from, new VoteResponse(Term, v.PreVote, false));
                    break;
            }
            return;
        }

        switch (message)
        {
            case VoteRequest v:
                HandleVoteRequest(from, v);
                break;
            case VoteResponse v:
                HandleVoteResponse(from, v);
                break;
            case Append a:
                HandleAppend(from, a);
                break;
            case AppendResponse r:
                if (IsHolder) HandleAppendResponse(from, r);
                break;
            case SnapshotPiece s:
                HandleSnapshotPiece(from, s);
                break;
            case SnapshotAck a:
                if (IsHolder) HandleSnapshotAck(from, a);
                break;
            case TimeoutNow:
                if (Voters.Contains(Self) && from == Holder) Campaign(preVote: false, transfer: true);
                break;
        }
    }

    /// <summary>
    /// This node heard from a live holder recently enough that it refuses to help elect another (unless it has evidence
    /// that the holder's process is gone: see <see cref="HolderGone"/>).
    /// </summary>
    private bool InLease => !Holder.IsEmpty && !_holderGone && _electionElapsed < _config.LeaseTicks(Role == LeaseRole.Learner) * LeaseScale;

    private void BecomeFollower(long term, PeerId holder)
    {
        if (term != Term) SetHardState(term, default);
        Role = Voters.Contains(Self) ? LeaseRole.Voter : LeaseRole.Learner;
        Holder = holder;
        _electionElapsed = 0;
        _holderGone = false;
        _probes.Clear();
        // A holder known again: elections (if any) go back to the normal range. Without one, a campaign that holder-gone
        // evidence started keeps its quick retries (a split vote, a majority of refusals).
        if (!holder.IsEmpty) _quickCampaigns = 0;
        _holderIdle = false;
        _idle = false;
        _quietRounds = 0;
        _transferTarget = default;
        _progress.Clear();
        ResetElectionTimeout();
    }
}
