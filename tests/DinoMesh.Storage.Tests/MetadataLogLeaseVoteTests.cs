using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// The lease's term and vote survive a reopen, a torn write costs at most the newest record, and recording them never
/// grows a file (so a full disk cannot keep a node out of an election).
/// </summary>
public sealed class MetadataLogLeaseVoteTests
{
    private static byte[] Voter(byte b) => Enumerable.Repeat(b, 32).ToArray();

    private static string VotePath(LogFixture fixture) => Path.Combine(Path.GetDirectoryName(fixture.SyncedPath)!, "lease.vote");

    [Fact]
    public void A_new_log_has_no_vote_and_a_recorded_one_survives_a_reopen()
    {
        using var fixture = new LogFixture();
        Assert.Null(fixture.Log.LeaseVote);
        fixture.Log.RecordLeaseVote(new LeaseVote(3, Voter(7), 12), sync: true);
        fixture.Log.RecordLeaseVote(new LeaseVote(4, [], 15), sync: true);
        var vote = fixture.Reopen().LeaseVote;
        Assert.NotNull(vote);
        Assert.Equal(4, vote.Term);
        Assert.Empty(vote.Vote);
        Assert.Equal(15, vote.Commit);
    }

    [Fact]
    public void A_torn_newest_slot_falls_back_to_the_record_before_it()
    {
        using var fixture = new LogFixture();
        fixture.Log.RecordLeaseVote(new LeaseVote(5, Voter(1), 20), sync: true);
        fixture.Log.RecordLeaseVote(new LeaseVote(6, Voter(2), 21), sync: true);
        fixture.Log.Dispose();
        // The second record went to the second slot: spoil a byte of its vote.
        LogFixture.FlipByte(VotePath(fixture), 64 + 20);
        var vote = fixture.Reopen().LeaseVote;
        Assert.NotNull(vote);
        Assert.Equal(5, vote.Term);
        Assert.Equal(Voter(1), vote.Vote);
    }

    [Fact]
    public void Recording_votes_never_grows_the_file()
    {
        using var fixture = new LogFixture();
        var length = new FileInfo(VotePath(fixture)).Length;
        for (var term = 1; term <= 50; term++) fixture.Log.RecordLeaseVote(new LeaseVote(term, Voter((byte)term), term * 10), sync: term % 2 == 0);
        Assert.Equal(length, new FileInfo(VotePath(fixture)).Length);
        Assert.Equal(50, fixture.Reopen().LeaseVote!.Term);
    }
}
