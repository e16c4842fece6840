namespace DinoMesh.Cluster.Membership;

/// <summary>What a node believes about a member. Ordered by how final the belief is.</summary>
public enum MemberStatus
{
    /// <summary>Answering probes (directly or through others), or not yet found to fail.</summary>
    Alive,

    /// <summary>A probe failed; the member has until the suspicion timeout to refute with a higher incarnation.</summary>
    Suspect,

    /// <summary>Suspected and not refuted in time. Kept (for <c>peers</c> and anti-entropy) until pruned.</summary>
    Dead,

    /// <summary>Announced a graceful leave. Never suspected; kept until pruned like a dead member.</summary>
    Left,
}
