using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// When a follower learns that the commit version moved (LeaseLog.Notices.cs), message by message on three voters:
/// a notice nobody waits for rides on the next append to that follower, or goes out alone when the driver's deadline
/// passes; a follower that waits for the commit (its own proposal, a read index, an fsync) is told at once.
/// </summary>
public class LeaseCommitNoticeTests
{
    private static readonly PeerId H = ThreeVoters.H;
    private static readonly PeerId F1 = ThreeVoters.F1;
    private static readonly PeerId F2 = ThreeVoters.F2;

    /// <summary>Every append leaves at once (quorum first off): these tests are about notices alone.</summary>
    private static ThreeVoters NewCluster() => new(LeaseConfig.Default with { DeferredAppendEntries = 0 });

    [Fact]
    public void A_commit_of_the_holders_own_proposal_rides_on_the_next_append_instead_of_a_notice_of_its_own()
    {
        var c = NewCluster();
        var v1 = c.Holder.Propose([[1]]);
        c.DeliverAppendsAndAnswers();
        Assert.Equal(v1, c.Holder.Commit);
        // Committed, and nothing sent to either follower for it: no append that carries only the commit version.
        Assert.Empty(c.Queued(H, F1));
        Assert.Empty(c.Queued(H, F2));
        Assert.True(c.Holder.CommitNoticesOwed);

        var v2 = c.Holder.Propose([[2]]);
        var appends = c.Queued(H, F1).Concat(c.Queued(H, F2)).Cast<Append>().ToList();
        Assert.Equal(2, appends.Count);
        Assert.All(appends, a => Assert.Equal(v2, Assert.Single(a.Entries).Version));
        Assert.All(appends, a => Assert.Equal(v1, a.Commit));
        Assert.False(c.Holder.CommitNoticesOwed);
        c.DeliverAppendsAndAnswers();
        Assert.Equal(v1, c.Node(F1).Commit);
        Assert.Equal(v1, c.Node(F2).Commit);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_follower_that_proposed_an_entry_is_told_of_its_commit_at_once(bool proposerAnswersFirst)
    {
        var c = NewCluster();
        var v = c.Holder.Propose([[7]], proposer: F1);
        c.DeliverQueued(H, F1);
        c.DeliverQueued(H, F2);
        var (first, second) = proposerAnswersFirst ? (F1, F2) : (F2, F1);
        c.DeliverQueued(first, H);
        c.DeliverQueued(second, H);
        Assert.Equal(v, c.Holder.Commit);

        // The proposer waits to apply its own change: an append with the commit version goes to it now.
        var notice = Assert.IsType<Append>(Assert.Single(c.Queued(H, F1)));
        Assert.Empty(notice.Entries);
        Assert.Equal(v, notice.Commit);
        c.DeliverQueued(H, F1);
        Assert.Equal(v, c.Node(F1).Commit);
        // The other follower does not wait for it: its notice is owed.
        Assert.Empty(c.Queued(H, F2));
        Assert.True(c.Holder.CommitNoticesOwed);
    }

    [Fact]
    public void A_follower_that_proposes_while_owed_a_notice_gets_it_with_its_entry_in_one_append()
    {
        var c = NewCluster();
        var v1 = c.Holder.Propose([[8]]);
        c.DeliverAppendsAndAnswers();
        Assert.True(c.Holder.CommitNoticesOwed);

        var v2 = c.Holder.Propose([[9]], proposer: F1);

        var append = Assert.IsType<Append>(Assert.Single(c.Queued(H, F1)));
        Assert.Equal(v2, Assert.Single(append.Entries).Version);
        Assert.Equal(v1, append.Commit);
    }

    [Fact]
    public void With_nothing_else_to_send_the_notices_go_out_when_the_deadline_passes()
    {
        var c = NewCluster();
        var v = c.Holder.Propose([[3]]);
        c.DeliverAppendsAndAnswers();
        Assert.Equal(v, c.Holder.Commit);
        Assert.True(c.Holder.CommitNoticesOwed);
        Assert.True(c.Node(F1).Commit < v);

        c.Holder.SendCommitNotices();

        foreach (var f in new[] { F1, F2 })
        {
            var notice = Assert.IsType<Append>(Assert.Single(c.Queued(H, f)));
            Assert.Empty(notice.Entries);
            Assert.Equal(v, notice.Commit);
        }
        Assert.False(c.Holder.CommitNoticesOwed);
        c.DeliverAppendsAndAnswers();
        Assert.Equal(v, c.Node(F1).Commit);
        Assert.Equal(v, c.Node(F2).Commit);
        // Told once: a second deadline sends nothing.
        c.Holder.SendCommitNotices();
        Assert.Empty(c.Queued(H, F1));
    }

    [Fact]
    public void When_the_driver_stops_holding_notices_they_go_at_once()
    {
        var c = NewCluster();
        c.Holder.HoldCommitNotices = false;
        var v = c.Holder.Propose([[6]]);
        c.DeliverAppendsAndAnswers();
        Assert.Equal(v, c.Holder.Commit);
        Assert.False(c.Holder.CommitNoticesOwed);
        Assert.All(new[] { F1, F2 }, f => Assert.Equal(v, Assert.IsType<Append>(Assert.Single(c.Queued(H, f))).Commit));
    }

    [Fact]
    public void A_follower_given_a_read_index_is_told_at_once_even_when_it_acknowledges_the_entries_later()
    {
        var c = NewCluster();
        var v = c.Holder.Propose([[4]]);
        c.DeliverQueued(H, F1);
        c.DeliverQueued(H, F2);
        c.DeliverQueued(F1, H);
        Assert.Equal(v, c.Holder.Commit);
        // F2 asks for the read index before its acknowledgement arrived: nothing can be told to it yet.
        c.Holder.CommitAwaited(F2, c.Holder.Commit);
        Assert.Empty(c.Queued(H, F2));
        c.DeliverQueued(F2, H);
        var notice = Assert.IsType<Append>(Assert.Single(c.Queued(H, F2)));
        Assert.Equal(v, notice.Commit);
        Assert.Empty(c.Queued(H, F1));
    }

    [Fact]
    public void While_an_fsync_waits_for_the_followers_every_notice_goes_at_once_with_the_sync_target()
    {
        var c = NewCluster();
        var v = c.Holder.Propose([[5]]);
        // fsync asked while the entry is on its way: each follower gets the entry (no sync target yet) and a heartbeat
        // with the target. The heartbeat overtakes the entry, so each syncs only what it held before.
        c.Holder.RequestSync(v);
        c.DeliverQueued(H, F1, lastFirst: true);
        c.DeliverQueued(H, F2, lastFirst: true);
        c.DeliverQueued(F1, H);
        c.DeliverQueued(F2, H);
        Assert.Equal(v, c.Holder.Commit);
        Assert.True(c.Holder.SyncedCommit < v);

        // The notices carry the target again: they are what the fsync waits on.
        foreach (var f in new[] { F1, F2 })
        {
            var notice = Assert.IsType<Append>(Assert.Single(c.Queued(H, f)));
            Assert.Equal(v, notice.SyncTo);
        }
        c.DeliverAppendsAndAnswers();
        Assert.Equal(v, c.Holder.SyncedCommit);
    }

    [Fact]
    public void Held_notices_that_ride_on_an_append_count_as_carried_and_those_sent_at_the_deadline_as_alone()
    {
        var c = NewCluster();
        var (carried, alone) = (c.Holder.NoticesCarried, c.Holder.NoticesSentAlone);
        c.Holder.Propose([[10]]);
        c.DeliverAppendsAndAnswers();
        Assert.True(c.Holder.CommitNoticesOwed);

        // The next change's appends take both followers' notices along.
        c.Holder.Propose([[11]]);
        c.DeliverAppendsAndAnswers();
        Assert.Equal((carried + 2, alone), (c.Holder.NoticesCarried, c.Holder.NoticesSentAlone));

        // Nothing follows the second: at the deadline both go alone.
        Assert.True(c.Holder.CommitNoticesOwed);
        c.Holder.SendCommitNotices();
        Assert.Equal((carried + 2, alone + 2), (c.Holder.NoticesCarried, c.Holder.NoticesSentAlone));
    }

    [Fact]
    public void A_held_notice_a_follower_asks_for_counts_as_alone_but_one_awaited_before_it_was_owed_counts_as_neither()
    {
        var c = NewCluster();
        var (carried, alone) = (c.Holder.NoticesCarried, c.Holder.NoticesSentAlone);
        // F1 proposes: its notice goes at once when the entry commits, never held. F2's is held.
        c.Holder.Propose([[12]], proposer: F1);
        c.DeliverAppendsAndAnswers();
        Assert.Equal((carried, alone), (c.Holder.NoticesCarried, c.Holder.NoticesSentAlone));
        Assert.True(c.Holder.CommitNoticesOwed);

        // F2 asks for a read index (an open there): the held notice goes now, on its own.
        c.Holder.CommitAwaited(F2, c.Holder.Commit);
        Assert.Empty(Assert.IsType<Append>(Assert.Single(c.Queued(H, F2))).Entries);
        Assert.Equal((carried, alone + 1), (c.Holder.NoticesCarried, c.Holder.NoticesSentAlone));
        Assert.False(c.Holder.CommitNoticesOwed);
    }

    [Fact]
    public void While_notices_go_at_once_nothing_is_counted_for_or_against_holding_them()
    {
        var c = NewCluster();
        c.Holder.HoldCommitNotices = false;
        var (carried, alone) = (c.Holder.NoticesCarried, c.Holder.NoticesSentAlone);
        for (var i = 0; i < 3; i++)
        {
            c.Holder.Propose([[(byte)(20 + i)]]);
            c.DeliverAppendsAndAnswers();
            c.Holder.CommitAwaited(F2, c.Holder.Commit);
            c.DeliverAppendsAndAnswers();
        }
        Assert.Equal((carried, alone), (c.Holder.NoticesCarried, c.Holder.NoticesSentAlone));
    }

    [Fact]
    public void Followers_that_ask_for_each_commit_before_an_append_comes_stop_the_holding()
    {
        // Both followers watch the holder's changes and open what changed (a read index each) before the next change:
        // holding saves no call, and each notice waits until asked for. Judged as the driver does after each round.
        var c = NewCluster();
        var policy = new CommitNoticePolicy(probeIntervalTicks: 1_000_000);
        long now = 0;
        for (var i = 0; i < 20 && c.Holder.HoldCommitNotices; i++)
        {
            c.Holder.Propose([[(byte)(30 + i)]]);
            c.DeliverAppendsAndAnswers();
            c.Holder.HoldCommitNotices = policy.Judge(c.Holder.NoticesCarried, c.Holder.NoticesSentAlone, ++now);
            c.Holder.CommitAwaited(F1, c.Holder.Commit);
            c.Holder.CommitAwaited(F2, c.Holder.Commit);
            c.DeliverAppendsAndAnswers();
            c.Holder.HoldCommitNotices = policy.Judge(c.Holder.NoticesCarried, c.Holder.NoticesSentAlone, ++now);
        }
        Assert.False(c.Holder.HoldCommitNotices, $"still holding at a miss rate of {policy.MissRate:F2}");

        // Now each commit's notices go at once: the followers know of it without asking.
        var v = c.Holder.Propose([[99]]);
        c.DeliverAppendsAndAnswers();
        c.DeliverAppendsAndAnswers();
        Assert.Equal(v, c.Node(F1).Commit);
        Assert.Equal(v, c.Node(F2).Commit);
    }

    [Fact]
    public void A_writer_whose_next_change_carries_the_notices_keeps_them_held()
    {
        var c = NewCluster();
        var policy = new CommitNoticePolicy(probeIntervalTicks: 1_000_000);
        long now = 0;
        var before = c.Holder.NoticesCarried;
        for (var i = 0; i < 50; i++)
        {
            c.Holder.Propose([[(byte)i]]);
            c.DeliverAppendsAndAnswers();
            c.Holder.HoldCommitNotices = policy.Judge(c.Holder.NoticesCarried, c.Holder.NoticesSentAlone, ++now);
            Assert.True(c.Holder.HoldCommitNotices);
        }
        Assert.Equal(before + 2 * 49, c.Holder.NoticesCarried);
    }
}
