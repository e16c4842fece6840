namespace DinoMesh.Cluster.Lease;

/// <summary>What this node is in the lease protocol right now.</summary>
public enum LeaseRole
{
    /// <summary>A voter following a holder (or waiting for one).</summary>
    Voter,

    /// <summary>A member without a vote: follows the log, never campaigns.</summary>
    Learner,

    /// <summary>Asking "would you vote for me?" without changing anyone's term.</summary>
    PreCandidate,

    /// <summary>Campaigning in a new term.</summary>
    Candidate,

    /// <summary>Holds the lease: orders every mutation and replicates the log.</summary>
    Holder,
}
