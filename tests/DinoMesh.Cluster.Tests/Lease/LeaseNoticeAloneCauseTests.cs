using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The holder's count of held notices that went alone, split by why (status only): the follower came to wait for the
/// commit, a deferred follower's notice at the deferral's deadline, or the notice deadline (the rest).
/// </summary>
public class LeaseNoticeAloneCauseTests
{
    private static readonly PeerId F2 = ThreeVoters.F2;

    [Fact]
    public void A_notice_a_follower_asks_for_counts_as_awaited_and_one_sent_at_the_deadline_as_neither_cause()
    {
        var c = new ThreeVoters(LeaseConfig.Default with { DeferredAppendEntries = 0 });
        c.Holder.Propose([[12]]);
        c.DeliverAppendsAndAnswers();
        var (alone, awaited, deferred) = (c.Holder.NoticesSentAlone, c.Holder.NoticesAloneAwaited, c.Holder.NoticesAloneDeferred);

        // F2 asks for a read index: its held notice goes now, alone, because it waits.
        c.Holder.CommitAwaited(F2, c.Holder.Commit);
        Assert.Equal((alone + 1, awaited + 1, deferred), (c.Holder.NoticesSentAlone, c.Holder.NoticesAloneAwaited, c.Holder.NoticesAloneDeferred));

        // F1's held notice goes at the notice deadline: alone, for neither cause.
        c.Holder.SendCommitNotices();
        Assert.Equal((alone + 2, awaited + 1, deferred), (c.Holder.NoticesSentAlone, c.Holder.NoticesAloneAwaited, c.Holder.NoticesAloneDeferred));
    }

    [Fact]
    public void A_deferred_followers_notice_with_no_entries_to_ride_on_counts_as_deferred()
    {
        var c = new ThreeVoters(LeaseConfig.Default);
        // Quorum first: one follower is deferred. Two changes commit on the quick one; the third is proposed, and the
        // deferral deadline sends the deferred follower all three before the third commits.
        for (byte i = 1; i <= 2; i++)
        {
            c.Holder.Propose([[i]]);
            c.DeliverAppendsAndAnswers();
        }
        c.Holder.Propose([[3]]);
        c.Holder.SendDeferredAppends();
        c.DeliverAppendsAndAnswers();
        // Its entries went and are acknowledged; the commit it has not heard waits for the next deferral deadline.
        Assert.True(c.Holder.AppendsDeferred, "no notice waits for the deferred follower");
        var (alone, deferred) = (c.Holder.NoticesSentAlone, c.Holder.NoticesAloneDeferred);

        c.Holder.SendDeferredAppends();
        Assert.Equal((alone + 1, deferred + 1), (c.Holder.NoticesSentAlone, c.Holder.NoticesAloneDeferred));
        Assert.Equal(0, c.Holder.NoticesAloneAwaited);
    }
}
