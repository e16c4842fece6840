using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// What the lease machine allocates in a commit round, on the holder and on a follower: its garbage is part of what
/// each node's gen0 collections, which stop the commit chain, are made of (docs/benchmarks.md, allocations per commit
/// round). Bounds on bytes (deterministic for a given run of rounds), not timings.
/// </summary>
public class LeaseRoundAllocationTests
{
    private static readonly PeerId H = ThreeVoters.H;
    private static readonly PeerId F1 = ThreeVoters.F1;
    private static readonly PeerId F2 = ThreeVoters.F2;
    private const int Rounds = 200;

    /// <summary>Every append leaves at once (quorum first off), so both followers take part in every round.</summary>
    private static ThreeVoters NewCluster() => new(LeaseConfig.Default with { DeferredAppendEntries = 0 });

    [Fact]
    public void The_machine_hands_out_one_ready_object_round_after_round()
    {
        var c = NewCluster();
        var holder = c.Holder;
        holder.Propose([[1]]);
        var first = holder.Ready();
        holder.Advance(first);
        holder.Propose([[2]]);
        var second = holder.Ready();

        Assert.Same(first, second);
        Assert.Equal(holder.LastVersion, Assert.Single(second.Entries).Version);
        // Still one Ready at a time: the object handed out is owed its Advance first.
        Assert.Throws<InvalidOperationException>(() => holder.Ready());
        holder.Advance(second);
        Assert.Throws<InvalidOperationException>(() => holder.Advance(second));
    }

    [Fact]
    public void A_proposal_does_not_list_the_followers_anew()
    {
        var c = NewCluster();
        var payloads = Enumerable.Range(0, 2 * Rounds).Select(i => new[] { new byte[] { (byte)i } }).ToArray();
        for (var i = 0; i < Rounds; i++) Round(c, payloads[i]);
        long bytes = 0;
        for (var i = Rounds; i < 2 * Rounds; i++) bytes += Round(c, payloads[i]);
        var perProposal = bytes / (double)Rounds;
        // The entry, one append per follower (message and entry list), the progress kept: about 424 bytes. A list of the
        // followers made on each proposal (40 bytes a peer, members then voters: 224 bytes here) made it 648.
        Assert.True(perProposal <= 450, $"{perProposal:F0} bytes per proposal");

        static long Round(ThreeVoters c, byte[][] payload)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            c.Holder.Propose(payload);
            var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
            c.DeliverAppendsAndAnswers();
            return bytes;
        }
    }

    [Fact]
    public void A_followers_append_and_answer_allocate_only_the_answer_and_the_entries()
    {
        var c = NewCluster();
        for (var i = 0; i < Rounds; i++) FollowerRound(c, (byte)i);
        long bytes = 0;
        for (var i = 0; i < Rounds; i++) bytes += FollowerRound(c, (byte)i);
        var perRound = bytes / (double)Rounds;
        // The answer, the copy of the entries to persist, the answer's envelope array: about 160 bytes. A Ready object
        // per round added about 184 more, and the answer copied although no sync had moved it 56 more (400 with both).
        Assert.True(perRound <= 190, $"{perRound:F0} bytes per round on a follower");
    }

    /// <summary>
    /// One proposal replicated; F1's part (step the append, take the Ready, advance) measured, the log's append (the
    /// test's stand-in for the disk) not.
    /// </summary>
    private static long FollowerRound(ThreeVoters c, byte payload)
    {
        c.Holder.Propose([[payload]]);
        var appends = c.Queued(H, F1);
        c.DropQueued(H, F1);
        var follower = c.Node(F1);
        long bytes = 0;
        foreach (var append in appends)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            follower.Step(H, append);
            var ready = follower.Ready();
            bytes += GC.GetAllocatedBytesForCurrentThread() - before;
            c.Log(F1).Append(ready.Entries);
            foreach (var m in ready.Messages) c.Holder.Step(F1, m.Message);
            before = GC.GetAllocatedBytesForCurrentThread();
            follower.Advance(ready);
            bytes += GC.GetAllocatedBytesForCurrentThread() - before;
        }
        c.DeliverQueued(H, F2);
        c.DeliverQueued(F2, H);
        c.DropQueued(H, F1);
        c.DropQueued(F1, H);
        return bytes;
    }
}
