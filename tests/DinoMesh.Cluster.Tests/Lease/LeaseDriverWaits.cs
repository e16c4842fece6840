using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>The waits the tests of real lease drivers share, each bounded by a deadline.</summary>
internal static class LeaseDriverWaits
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Until <paramref name="holder"/> holds the lease with every entry of its log committed and applied (so no earlier
    /// round is still in flight); fails the test when it does not within the deadline.
    /// </summary>
    public static async Task HolderSettledAsync(LeaseDriver holder, CancellationToken ct)
    {
        var until = DateTime.UtcNow + Deadline;
        while ((holder.Status is not { Role: LeaseRole.Holder } status || status.Commit < status.LastVersion || status.Applied < status.Commit)
               && DateTime.UtcNow < until)
        {
            await Task.Delay(5, ct);
        }
        Assert.Equal(LeaseRole.Holder, holder.Status.Role);
    }

    /// <summary>Proposes <paramref name="mutation"/> once <paramref name="holder"/> holds the lease (or the deadline passed).</summary>
    public static async Task<ProposeOutcome> ProposeWhenHolderAsync(LeaseDriver holder, Mutation mutation, CancellationToken ct)
    {
        var until = DateTime.UtcNow + Deadline;
        while (holder.Status.Role != LeaseRole.Holder && DateTime.UtcNow < until) await Task.Delay(10, ct);
        return holder.Propose(mutation, Core.Wire.MutationCodec.Encode(mutation)).Outcome;
    }

    /// <summary>Proposes <paramref name="mutation"/> on <paramref name="holder"/> and waits until its replica applied it.</summary>
    public static async Task ProposeAndApplyAsync(LeaseDriver holder, Storage.Replica.MetadataReplica replica, Mutation mutation, CancellationToken ct)
    {
        var until = DateTime.UtcNow + Deadline;
        while (holder.Status.Role != LeaseRole.Holder && DateTime.UtcNow < until) await Task.Delay(10, ct);
        var answer = holder.Propose(mutation, Core.Wire.MutationCodec.Encode(mutation));
        Assert.Equal(ProposeOutcome.Appended, answer.Outcome);
        while (replica.Current.Version < answer.Version && DateTime.UtcNow < until) await Task.Delay(5, ct);
    }

    /// <summary>
    /// Admits <paramref name="member"/> and makes the founder and it the voters, each change committed before the next,
    /// so a commit needs its answer (the founder alone is a majority of one).
    /// </summary>
    public static async Task MakeVoterAsync(LeaseDriver holder, PeerId member, CancellationToken ct)
    {
        var founder = holder.Self;
        var admit = new Mutation { Kind = new AdmitMember(member, "127.0.0.2:1"), Proposer = founder, Op = new OpId([9], 1) };
        var voters = new Mutation { Kind = new SetVoters([founder, member]), Proposer = founder, Op = new OpId([9], 2) };
        foreach (var change in new[] { admit, voters })
        {
            Assert.Equal(ProposeOutcome.Appended, holder.Propose(change, Core.Wire.MutationCodec.Encode(change)).Outcome);
            await HolderSettledAsync(holder, ct);
        }
        Assert.Contains(member, holder.Status.Voters);
    }
}
