namespace DinoMesh.Cluster.Node;

/// <summary>What to do with a peer that asks to be served, at one moment.</summary>
public enum AdmissionStep
{
    /// <summary>Serve it: it is admitted.</summary>
    Admit,

    /// <summary>Refuse it: not admitted, and nothing this node has yet to learn could change that.</summary>
    Refuse,

    /// <summary>Not admitted here yet, but this node's log is behind the version the peer presents: wait for it.</summary>
    Wait,
}

/// <summary>
/// The admission decision, pure. A newcomer is admitted by a committed log entry (<c>AdmitMember</c>) at some version
/// V, and its join answer says V; it presents V to every member it dials. A member knows every admission up to the
/// version it "knows through" (the log it applied, or for a newcomer the member list its own join answer carried,
/// which holds every member up to its own V). So an unknown peer presenting a version at or below that is not a
/// member (never admitted, or removed) and is refused at once; one presenting a higher version may be a member this
/// node has not heard of yet, and is waited for, until the deadline.
/// </summary>
public static class AdmissionRule
{
    /// <param name="admitted">The peer is in this node's admitted set now.</param>
    /// <param name="evicted">The log removed the peer: refused whatever it presents.</param>
    /// <param name="presented">The log version the peer says it was admitted at (0: none).</param>
    /// <param name="knownThrough">The highest version whose admissions this node knows all of.</param>
    /// <param name="timeLeft">The wait's deadline has not passed.</param>
    public static AdmissionStep Decide(bool admitted, bool evicted, long presented, long knownThrough, bool timeLeft) =>
        evicted ? AdmissionStep.Refuse
        : admitted ? AdmissionStep.Admit
        : presented <= knownThrough ? AdmissionStep.Refuse
        : timeLeft ? AdmissionStep.Wait
        : AdmissionStep.Refuse;
}
