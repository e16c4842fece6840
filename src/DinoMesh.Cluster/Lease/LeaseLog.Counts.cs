using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Running counts of what this machine did, and how its quorum stands, for metrics and status. Plain fields: the machine
// runs under its caller's lock, and the driver reads them there (LeaseDriver.Counters). None is on the commit path.
public sealed partial class LeaseLog
{
    private PeerId _holder;
    // The holder and term last counted as a holder change: the same holder again in the same term (after a pre-vote
    // that cleared it, say) is not a change.
    private (PeerId Holder, long Term) _holderSeen;

    /// <summary>The holder of the current term as far as this node knows (empty when unknown).</summary>
    public PeerId Holder
    {
        get => _holder;
        private set
        {
            // Set after the term on every path (BecomeFollower, BecomeHolder): the pair is the new holder's.
            if (!value.IsEmpty && (value, Term) != _holderSeen)
            {
                HolderChangesSeen++;
                _holderSeen = (value, Term);
            }
            _holder = value;
        }
    }

    /// <summary>Pre-vote campaigns this node started (each asks "would you vote for me?" without a new term).</summary>
    public long PreVotesStarted { get; private set; }

    /// <summary>Vote campaigns this node started, each in a new term (after a pre-vote it won, or ordered by a transfer).</summary>
    public long VotesStarted { get; private set; }

    /// <summary>Elections this node won: times it became the holder.</summary>
    public long ElectionsWon { get; private set; }

    /// <summary>
    /// Holders this node learnt of: a holder (itself included) in a term it had not seen one in, or another holder.
    /// As etcd's leader_changes_seen: a node that follows one holder for ever counts 1.
    /// </summary>
    public long HolderChangesSeen { get; private set; }

    /// <summary>Hand-overs of the lease this holder started (graceful stop, the busiest proposer's voter).</summary>
    public long TransfersStarted { get; private set; }

    /// <summary>Snapshot transfers this holder started (a new snapshot for a follower; a resumed one is not counted).</summary>
    public long SnapshotsStarted { get; private set; }

    /// <summary>Entries this node took from gossip catch-up (pulled from a member ahead of it, not from the holder).</summary>
    public long EntriesPulled { get; private set; }

    /// <summary>Members this node knows that do not vote (itself included, when it is one).</summary>
    public int Learners
    {
        get
        {
            var voters = Voters;
            var count = voters.Contains(Self) ? 0 : 1;
            foreach (var member in _members) if (!voters.Contains(member)) count++;
            return count;
        }
    }

    /// <summary>
    /// Whether this node is in touch with a majority: a holder heard from a majority of voters within the current or the
    /// last check-quorum window (an election timeout each; it steps down at a check that finds fewer); any other node
    /// heard from a live holder (<see cref="HolderLost"/> is false).
    /// </summary>
    public bool InQuorum
    {
        get
        {
            if (!IsHolder) return !HolderLost;
            var active = 0;
            foreach (var voter in Voters.Voters)
            {
                if (voter == Self || (_progress.TryGetValue(voter, out var p) && (p.RecentlyActive || p.ActiveLastWindow))) active++;
            }
            return active >= Voters.Quorum;
        }
    }
}
