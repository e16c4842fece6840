namespace DinoMesh.Cluster.Lease;

/// <summary>
/// How the holder's two hold-back policies stand, for status and metrics: whether it holds commit notices back for the
/// next append (<see cref="LeaseLog.HoldCommitNotices"/>) and defers appends to followers the majority does not need
/// (<see cref="LeaseLog.DeferAppends"/>), how often each <see cref="CommitNoticePolicy"/> changed its mind, and the
/// machine's running counts the policies judge by. One writer on 3 nodes runs at two speeds; these tell whether a
/// slow run is one where a policy switched off (docs/benchmarks.md). Counts run from this node's start (a node that
/// never held the lease reports zeros).
/// </summary>
public sealed record LeaseHoldBack(
    bool HoldingNotices,
    long NoticePolicyFlips,
    long NoticesCarried,
    long NoticesSentAlone,
    bool DeferringAppends,
    long DeferralPolicyFlips,
    long DeferralsMerged,
    long DeferralsAlone,
    long QuickVotersDemoted,
    long NoticesAloneAwaited = 0,
    long NoticesAloneDeferred = 0);
