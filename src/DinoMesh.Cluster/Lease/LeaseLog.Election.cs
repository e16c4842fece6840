using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Elections: pre-vote, vote, and becoming the holder.
public sealed partial class LeaseLog
{
    /// <summary>
    /// Campaigns at once instead of waiting out an election timeout: for a node that is the only voter (a one-node
    /// cluster after a restart), which has nobody to wait for.
    /// </summary>
    public void CampaignNow()
    {
        if (IsHolder || !Voters.Contains(Self)) return;
        Campaign(preVote: true, transfer: false);
    }

    private void Campaign(bool preVote, bool transfer)
    {
        _votes.Clear();
        _votes[Self] = true;
        Holder = default;
        // No holder is followed any more, so no idle holder's slow renewals are waited for: a split vote is retried after
        // a normal election timeout, not a stretched one.
        _holderIdle = false;
        if (preVote)
        {
            Role = LeaseRole.PreCandidate;
            PreVotesStarted++;
        }
        else
        {
            Role = LeaseRole.Candidate;
            VotesStarted++;
            SetHardState(Term + 1, Self);
        }
        ResetElectionTimeout();
        if (HasQuorum(granted: true))
        {
            AfterWin(preVote);
            return;
        }
        var term = preVote ? Term + 1 : Term;
        foreach (var voter in Voters.Voters.Where(v => v != Self))
        {
            Send(voter, new VoteRequest(term, preVote, LastVersion, LastTerm, transfer));
        }
    }

    private void AfterWin(bool preVote)
    {
        if (preVote) Campaign(preVote: false, transfer: false);
        else BecomeHolder();
    }

    private bool HasQuorum(bool granted) => _votes.Count(v => v.Value == granted && Voters.Contains(v.Key)) >= Voters.Quorum;

    private void HandleVoteRequest(PeerId from, VoteRequest v)
    {
        // Raft §5.4.1: only a log at least as up to date as this node's gets a vote.
        var upToDate = v.LastTerm > LastTerm || (v.LastTerm == LastTerm && v.LastVersion >= LastVersion);
        var canVote = Vote == from
            || (Vote.IsEmpty && Holder.IsEmpty)
            || (v.PreVote && v.RequestTerm > Term);
        // Raft §4.1: a server votes without consulting its own configuration — a voter that has not yet received the
        // entry that made it one must still help elect the holder that has it.
        if (canVote && upToDate)
        {
            if (!v.PreVote)
            {
                SetHardState(Term, from);
                _electionElapsed = 0;
            }
            Send(from, new VoteResponse(v.PreVote ? v.RequestTerm : Term, v.PreVote, true));
            return;
        }
        Send(from, new VoteResponse(Term, v.PreVote, false));
    }

    private void HandleVoteResponse(PeerId from, VoteResponse v)
    {
        var expecting = v.PreVote ? LeaseRole.PreCandidate : LeaseRole.Candidate;
        if (Role != expecting) return;
        _votes.TryAdd(from, v.Granted);
        if (HasQuorum(granted: true)) AfterWin(v.PreVote);
        else if (HasQuorum(granted: false)) BecomeFollower(Term, default);
    }

    private void BecomeHolder()
    {
        Role = LeaseRole.Holder;
        ElectionsWon++;
        Holder = Self;
        _quickCampaigns = 0;
        _idle = false;
        _holderIdle = false;
        _quietRounds = 0;
        _heartbeatElapsed = 0;
        _electionElapsed = 0;
        _transferTarget = default;
        _progress.Clear();
        var next = LastVersion + 1;
        foreach (var peer in Followers) _progress[peer] = new Progress { Next = next, Match = 0, RecentlyActive = true };
        // A new holder commits an entry of its own term before anything else (Raft §5.4.2); that also commits
        // whatever earlier terms left uncommitted.
        AppendLocal(_noopPayload);
        BroadcastAppend();
    }
}
