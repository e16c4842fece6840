namespace DinoMesh.Cluster.Lease;

// Running counts for metrics and `status --json`: the machine's (elections, holders seen, transfers, snapshots, pulls)
// and the driver's own. Those the commit path touches cost a plain increment under the lock it already holds, or one
// Interlocked add (the committer's outcomes); everything else is read only when someone looks.
public sealed partial class LeaseDriver
{
    // Proposals this driver handled, by outcome (under the lock).
    private long _proposalsAppended, _proposalsRetried, _proposalsRefused, _proposalsNotHolder;
    // Rounds ProcessLocked left to a proposer whose appends were being flushed (under the lock).
    private long _roundsDeferred;
    // Snapshots installed here, and states replaced by the holder's (under the lock).
    private long _snapshotsInstalled;
    // How this node's own proposals ended (ClusterCommitter, Interlocked: it calls from any thread, without the lock).
    private readonly long[] _commitEnds = new long[4];

    /// <summary>Counts one of this node's proposals as it ends in the committer (one Interlocked add).</summary>
    internal void CountCommitEnd(CommitEnd end) => Interlocked.Increment(ref _commitEnds[(int)end]);

    /// <summary>The running counts since this node started, read under the lock (for metrics and status).</summary>
    public LeaseCounters Counters
    {
        get
        {
            lock (_gate)
            {
                if (_machine is null) return new LeaseCounters();
                AdvanceLocked();
                return new LeaseCounters(
                    _machine.PreVotesStarted, _machine.VotesStarted, _machine.ElectionsWon, _machine.HolderChangesSeen, _machine.TransfersStarted,
                    Interlocked.Read(ref _commitEnds[(int)CommitEnd.Committed]), Interlocked.Read(ref _commitEnds[(int)CommitEnd.Refused]),
                    Interlocked.Read(ref _commitEnds[(int)CommitEnd.TimedOut]), Interlocked.Read(ref _commitEnds[(int)CommitEnd.NoQuorum]),
                    _proposalsAppended, _proposalsRetried, _proposalsRefused, _proposalsNotHolder,
                    _machine.SnapshotsStarted, _snapshotsInstalled, _machine.EntriesPulled, _roundsDeferred);
            }
        }
    }
}

/// <summary>How one of this node's proposals ended in <see cref="ClusterCommitter"/>.</summary>
internal enum CommitEnd
{
    /// <summary>Applied here (committed).</summary>
    Committed,

    /// <summary>The holder refused it (its check failed: an errno such as EEXIST or ENOSPC).</summary>
    Refused,

    /// <summary>A holder took it but its commit did not reach this node within the commit timeout.</summary>
    TimedOut,

    /// <summary>No holder with a majority took it within the commit timeout.</summary>
    NoQuorum,
}

/// <summary>
/// The lease's running counts since this node started, for `status --json` and metrics (docs/architecture.md,
/// "Metrics and the status page"). Elections: pre-vote and vote campaigns started, elections won, holders learnt of
/// (as etcd's leader_changes_seen), hand-overs started. This node's proposals by how they ended (committed, refused,
/// timed out after a holder took them, no holder with a majority). Proposals this node's driver handled as holder (or
/// turned away: not the holder): appended, retries answered from the op-id table (already in the log), refused.
/// Snapshot transfers started as holder, snapshots installed here, entries pulled by gossip catch-up, and rounds the
/// driver left to a proposer whose appends were being flushed.
/// </summary>
public sealed record LeaseCounters(
    long PreVotesStarted = 0,
    long VotesStarted = 0,
    long ElectionsWon = 0,
    long HolderChangesSeen = 0,
    long TransfersStarted = 0,
    long Committed = 0,
    long CommitsRefused = 0,
    long CommitsTimedOut = 0,
    long CommitsWithoutQuorum = 0,
    long ProposalsAppended = 0,
    long ProposalsRetried = 0,
    long ProposalsRefused = 0,
    long ProposalsNotHolder = 0,
    long SnapshotsSent = 0,
    long SnapshotsInstalled = 0,
    long EntriesPulled = 0,
    long RoundsDeferred = 0);
