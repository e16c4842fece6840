using System.Collections.Concurrent;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Replica;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// Whom the holder replicates to follows the log's members. Entries are applied on whichever thread commits them, and
/// each announces itself after the replica's lock is gone, so two admissions committed together announce themselves in
/// either order. Regression: a node read the member list when the first announcement ran and handed it to the driver
/// after the second, which dropped the member the second admitted; the holder never sent it an entry, and with three
/// nodes it never became a voter ("no holder counted 3 voters within 60 s", "a file created on node1 did not appear on
/// node3"). It failed one cluster formation in about ten on a loaded machine.
/// </summary>
public sealed class LeaseDriverMembershipTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private static readonly PeerId C = new(new string('c', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task Admissions_announced_in_the_reverse_order_both_reach_their_members()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, bReplica, cReplica) = (_replicas.Open(), _replicas.Open(), _replicas.Open());
        LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], A), Proposer = A, TimeNs = 1 });
        // The node's handler, with its announcements held back so that they can be delivered out of order.
        var announced = new ConcurrentQueue<long>();
        holderReplica.Applied += (_, result) =>
        {
            if (result.Effect.MembersChanged) announced.Enqueue(result.State.Version);
        };

        var wire = new MemoryLeaseNetwork();
        var (holder, b, c) = (wire.Join(A, holderReplica), wire.Join(B, bReplica), wire.Join(C, cReplica));
        await using var _ = holder;
        await using var __ = b;
        await using var ___ = c;
        holder.Start([A]);
        b.Start([A, B, C]);
        c.Start([A, B, C]);
        await Until(() => holder.Status.Role == LeaseRole.Holder, () => "A holds the lease", ct);
        announced.Clear();

        var admitB = Admit(holder, B, 1);
        var admitC = Admit(holder, C, 2);
        Assert.True(admitB < admitC, $"B admitted at {admitB}, C at {admitC}");
        await Until(() => holderReplica.Current.Version >= admitC && announced.Count == 2, () => "both admissions applied on the holder", ct);

        // The later admission's announcement first, then the earlier one's, as two applying threads may deliver them.
        foreach (var version in announced.Reverse()) holder.MembersChanged();

        await Until(() => bReplica.Current.Version >= admitC && cReplica.Current.Version >= admitC,
            () => $"both newcomers hold the log through {admitC} (B at {bReplica.Current.Version}, C at {cReplica.Current.Version})", ct);
    }

    private static long Admit(LeaseDriver holder, PeerId member, ulong op)
    {
        var mutation = new Mutation { Kind = new AdmitMember(member, $"127.0.0.{op}:1"), Proposer = A, Op = new OpId([1], op), TimeNs = 1 };
        var response = holder.Propose(mutation, Core.Wire.MutationCodec.Encode(mutation));
        Assert.Equal(ProposeOutcome.Appended, response.Outcome);
        return response.Version;
    }

    private static async Task Until(Func<bool> condition, Func<string> what, CancellationToken ct)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, $"not within 20 s: {what()}");
            await Task.Delay(10, ct);
        }
    }

    public void Dispose() => _replicas.Dispose();
}
