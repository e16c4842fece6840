using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// What the committer looks up on every commit, made cheap: who holds the lease (<see cref="LeaseDriver.Glance"/>,
/// without copying the voters and matches) and the waiting caller of an applied change (by the op id's bytes).
/// </summary>
public sealed class CommitLookupTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public void A_waiting_caller_is_found_by_an_op_id_decoded_into_other_arrays()
    {
        var op = new OpId([1, 2, 3, 4], 7);
        // A change applied from the log carries a decoded op id: equal bytes, another array.
        var decoded = MutationCodec.Decode(MutationCodec.Encode(new Mutation { Kind = new Noop(), Proposer = A, Op = op })).Op!;
        Assert.NotSame(op.Client, decoded.Client);

        Assert.Equal(WaiterKey.Of(op), WaiterKey.Of(decoded));
        Assert.Equal(WaiterKey.Of(op).GetHashCode(), WaiterKey.Of(decoded).GetHashCode());
        Assert.NotEqual(WaiterKey.Of(op), WaiterKey.Of(op with { Seq = 8 }));
        Assert.NotEqual(WaiterKey.Of(op), WaiterKey.Of(new OpId([1, 2, 3, 5], 7)));
        Assert.NotEqual(WaiterKey.Of(op), WaiterKey.Of(new OpId([1, 2, 3], 7)));
    }

    [Fact]
    public async Task The_glance_tells_what_the_status_tells_of_holder_commit_and_quorum()
    {
        var ct = TestContext.Current.CancellationToken;
        var replica = _replicas.Founded(A);
        var wire = new MemoryLeaseNetwork();
        await using var holder = wire.Join(A, replica);
        holder.Start([A]);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (holder.Status.Role != LeaseRole.Holder && DateTime.UtcNow < until) await Task.Delay(10, ct);
        for (ulong i = 1; i <= 5; i++)
        {
            var mutation = TempReplicas.CreateInRoot($"g{i}", i, A);
            Assert.Equal(ProposeOutcome.Appended, holder.Propose(mutation, MutationCodec.Encode(mutation)).Outcome);
        }
        while (replica.Current.Version < replica.Log.LastVersion && DateTime.UtcNow < until) await Task.Delay(10, ct);

        var glance = holder.Glance;
        var status = holder.Status;
        Assert.Equal(A, glance.Holder);
        Assert.Equal(status.Holder, glance.Holder);
        Assert.Equal(status.Commit, glance.Commit);
        Assert.Equal(replica.Log.LastVersion, glance.Commit);
        Assert.Equal(status.NoQuorum, glance.NoQuorum);
    }

    public void Dispose() => _replicas.Dispose();
}
