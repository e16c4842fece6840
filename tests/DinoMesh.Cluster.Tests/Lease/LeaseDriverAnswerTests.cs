using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Replica;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// Two lease drivers on real logs in temp directories, wired the way the transport wires them: what one sends the
/// other receives through <see cref="LeaseDriver.ReceiveAndAnswer"/>, and the answers go straight back to the sender.
/// A follower's acknowledgements must travel in those answers (one call per replication round), never through its own
/// outbox.
/// </summary>
public sealed class LeaseDriverAnswerTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_follower_acknowledges_appends_in_the_answer_to_the_call_that_carried_them()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (OpenReplica(), OpenReplica());
        LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], A), Proposer = A, TimeNs = 1 });

        var wire = new MemoryLeaseNetwork();
        var holder = wire.Join(A, holderReplica);
        var follower = wire.Join(B, followerReplica);
        await using var _ = holder;
        await using var __ = follower;
        holder.Start([A, B]);
        follower.Start([A, B]);

        var noop = new Mutation { Kind = new Noop(), Proposer = A, Op = new OpId([1], 1) };
        Assert.Equal(ProposeOutcome.Appended, await LeaseDriverWaits.ProposeWhenHolderAsync(holder, noop, ct));
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (followerReplica.Current.Version < holderReplica.Log.LastVersion && DateTime.UtcNow < until) await Task.Delay(10, ct);

        Assert.Equal(holderReplica.Log.LastVersion, followerReplica.Current.Version);
        Assert.True(wire.AnsweredAcknowledgements > 0, "the follower's acknowledgements came back in the calls' answers");
        Assert.Equal(0, wire.QueuedAcknowledgements);
    }

    private MetadataReplica OpenReplica() => _replicas.Open();

    public void Dispose() => _replicas.Dispose();
}
