namespace DinoMesh.Storage.Metadata;

// The lease's term, vote and known commit, kept in a preallocated file so that a full disk cannot stop an election.
public sealed partial class MetadataLog
{
    /// <summary>The newest recorded lease vote, or null when this log never recorded one.</summary>
    public LeaseVote? LeaseVote
    {
        get
        {
            ThrowIfDisposed();
            return _vote.Current;
        }
    }

    /// <summary>
    /// Records the lease's term, vote and commit in place. <paramref name="sync"/> (a new term or vote) returns only once
    /// they are on disk; a commit alone is advisory and is not synced.
    /// </summary>
    public void RecordLeaseVote(LeaseVote vote, bool sync)
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            _vote.Write(vote, sync);
        }
    }
}
