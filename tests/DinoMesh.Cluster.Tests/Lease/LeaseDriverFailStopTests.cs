using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// A driver whose log fails while it acts on the machine's output (here: the log is closed under it, as a disk error
/// would leave it) stops for good and says so once, instead of wedging with a half-done round ("Ready called twice")
/// while the node looks alive.
/// </summary>
public sealed class LeaseDriverFailStopTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_follower_whose_log_fails_stops_once_and_ignores_everything_after()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (_replicas.Open(), _replicas.Open());
        LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], A), Proposer = A, TimeNs = 1 });
        var wire = new MemoryLeaseNetwork();
        var holder = wire.Join(A, holderReplica);
        var follower = wire.Join(B, followerReplica);
        await using var _ = holder;
        await using var __ = follower;
        var failures = new List<Exception>();
        follower.Failed += e => { lock (failures) failures.Add(e); };
        holder.Start([A, B]);
        follower.Start([A, B]);
        Assert.Equal(ProposeOutcome.Appended, await LeaseDriverWaits.ProposeWhenHolderAsync(holder, Noop(1), ct));
        Assert.True(await Until(() => followerReplica.Current.Version == holderReplica.Log.LastVersion, ct), $"the follower did not catch up: {followerReplica.Current.Version} of {holderReplica.Log.LastVersion}, failed {follower.HasFailed} {string.Join(",", failures)}");

        followerReplica.Log.Dispose();
        for (ulong seq = 2; seq < 6; seq++) holder.Propose(Noop(seq), Core.Wire.MutationCodec.Encode(Noop(seq)));

        Assert.True(await Until(() => follower.HasFailed, ct), "the follower's driver did not stop when its log failed");
        // Every later input is ignored quietly: no exception, no answer, no proposal taken.
        var answers = follower.ReceiveAndAnswer(A, [new LogDigest(holder.Status.Term, holderReplica.Log.LastVersion)]);
        Assert.Empty(answers);
        Assert.Equal(ProposeOutcome.NotHolder, follower.Propose(Noop(9), Core.Wire.MutationCodec.Encode(Noop(9))).Outcome);
        await Task.Delay(300, ct);
        lock (failures)
        {
            var failure = Assert.Single(failures);
            Assert.IsType<ObjectDisposedException>(failure);
        }
    }

    [Fact]
    public async Task A_driver_disposed_before_it_started_stops_quietly()
    {
        // A node whose start fails after the driver is made (a mount refused, say) disposes it unstarted; that must not
        // throw over the failure that caused it.
        var replica = _replicas.Open();
        LeaseDriver.Found(replica, new Mutation { Kind = new Genesis(new byte[16], A), Proposer = A, TimeNs = 1 });
        var driver = new MemoryLeaseNetwork().Join(A, replica);
        await driver.DisposeAsync();
        Assert.False(driver.HasFailed);
    }

    private static Mutation Noop(ulong seq) => new() { Kind = new Noop(), Proposer = A, Op = new OpId([1], seq) };

    private static async Task<bool> Until(Func<bool> condition, CancellationToken ct)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > until) return false;
            await Task.Delay(10, ct);
        }
        return true;
    }

    public void Dispose() => _replicas.Dispose();
}
