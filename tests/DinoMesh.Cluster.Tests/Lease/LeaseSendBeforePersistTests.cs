using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// A holder's appends may leave before its own entries are persisted (<see cref="LeaseLog.TakeMessagesBeforePersist"/>,
/// Raft thesis §10.2.1): what that may and may not change, message by message on three voters.
/// </summary>
public class LeaseSendBeforePersistTests
{
    private static readonly PeerId H = ThreeVoters.H;
    private static readonly PeerId F1 = ThreeVoters.F1;
    private static readonly PeerId F2 = ThreeVoters.F2;

    /// <summary>Every append leaves at once (quorum first off), so both followers get the entry in the same round.</summary>
    private static ThreeVoters NewCluster() => new(LeaseConfig.Default with { DeferredAppendEntries = 0 });

    [Fact]
    public void The_holders_appends_are_taken_before_its_entry_is_persisted_and_are_not_sent_again()
    {
        var c = NewCluster();
        var v = c.Holder.Propose([[1]]);

        var early = c.Holder.TakeMessagesBeforePersist();

        Assert.Equal([F1, F2], early.Select(e => e.Peer).Order());
        Assert.All(early, e => Assert.Equal(v, Assert.Single(Assert.IsType<Append>(e.Message).Entries).Version));
        // The entry itself is still to be persisted, and its appends are not in the Ready that persists it.
        var ready = c.Holder.Ready();
        Assert.Equal(v, Assert.Single(ready.Entries).Version);
        Assert.Empty(ready.Messages);
    }

    [Fact]
    public void The_holders_own_entry_counts_towards_a_majority_only_once_persisted()
    {
        var c = NewCluster();
        var before = c.Holder.Commit;
        var v = c.Holder.Propose([[1]]);
        var early = c.Holder.TakeMessagesBeforePersist();

        // F1 appends and answers before the holder has written the entry: one voter of three holds it.
        c.Node(F1).Step(H, early.Single(e => e.Peer == F1).Message);
        foreach (var answer in c.Queued(F1, H)) c.Holder.Step(F1, answer);
        Assert.Equal(before, c.Holder.Commit);

        // Once the holder's Ready is acted on (the entry persisted), the holder and F1 are a majority.
        c.Queued(H, F1);
        Assert.Equal(v, c.Holder.Commit);
    }
}
