namespace DinoMesh.Cluster.Lease;

// When the clock next matters: lets a driver sleep through ticks that would only count.
public sealed partial class LeaseLog
{
    /// <summary>
    /// How many ticks from now the first one comes that may do more than advance counters: send a message (heartbeat,
    /// gossip, a campaign), ask for a probe of the holder, step down, or end a transfer; <see cref="int.MaxValue"/> when none will (a lone holder
    /// that is its own quorum). Every tick before it only counts, so a driver may sleep until then and apply the
    /// skipped ticks, in order, before the next input; the machine then ends in the same state as if it had ticked
    /// all along. Never less than 1.
    /// </summary>
    public int TicksUntilDue
    {
        get
        {
            var due = int.MaxValue;
            // _members never holds this node: a second member means a gossip round has someone to tell.
            if (_members.Count > 0) due = Math.Min(due, GossipInterval - _gossipElapsed);
            if (IsHolder)
            {
                // Members, then voters (the followers, without building their list: this is asked after every round).
                var followers = false;
                foreach (var peer in _members)
                {
                    followers = true;
                    // A follower without progress gets it (and its first append) on the next tick.
                    if (!_progress.ContainsKey(peer)) return 1;
                }
                var voters = Voters.Voters;
                for (var i = 0; i < voters.Count; i++)
                {
                    if (voters[i] == Self) continue;
                    followers = true;
                    if (!_progress.ContainsKey(voters[i])) return 1;
                }
                if (followers) due = Math.Min(due, HeartbeatInterval - _heartbeatElapsed);
                // Check-quorum can step down any holder but the only voter (it is its own majority).
                if (!(Voters.Voters.Count == 1 && Voters.Contains(Self))) due = Math.Min(due, CheckQuorumTicks - _electionElapsed);
                if (Transferring) due = Math.Min(due, _config.ElectionTicks - _transferElapsed);
                due = Math.Min(due, TicksUntilProbe());
            }
            else if (Role != LeaseRole.Learner && Voters.Contains(Self))
            {
                due = Math.Min(due, _randomizedElectionTimeout * LeaseScale - _electionElapsed);
                due = Math.Min(due, TicksUntilProbe());
            }
            return Math.Max(1, due);
        }
    }
}
