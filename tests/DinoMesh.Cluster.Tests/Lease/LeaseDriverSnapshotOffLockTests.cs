using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// A follower installing a large snapshot kept its driver's lock for the whole install (a 2.5 GB snapshot: 69-90 s of
/// check, decode, syncfs and copy into the log), answering no heartbeat, vote or append meanwhile. Here the follower is
/// held inside that slow part (its log's snapshot file is written, not yet named) and must still take its lock: its
/// status answers, and once let go it installs exactly the holder's state.
/// </summary>
public sealed class LeaseDriverSnapshotOffLockTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_follower_answers_while_its_snapshot_is_copied_into_the_log()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (_replicas.Open(), _replicas.Open());
        LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], A), Proposer = A, TimeNs = 1 });
        var timing = new LeaseTiming { Machine = LeaseConfig.Default with { SnapshotPieceBytes = 1024 } };
        var wire = new MemoryLeaseNetwork();
        var holder = new LeaseDriver(A, holderReplica, wire.From(A), timing, NullLogger.Instance);
        var follower = new LeaseDriver(B, followerReplica, wire.From(B), timing, NullLogger.Instance);
        using var inside = new ManualResetEventSlim();
        using var letGo = new ManualResetEventSlim();
        await using var _ = holder;
        await using var __ = follower;
        try
        {
            wire.Drivers[A] = holder;
            holder.Start([A, B]);
            ulong seq = 0;
            for (var round = 0; round < 2; round++)
            {
                for (var i = 0; i < 40; i++) await LeaseDriverWaits.ProposeAndApplyAsync(holder, holderReplica, TempReplicas.CreateInRoot($"f{seq}", ++seq, A), ct);
                holderReplica.Snapshot();
            }
            Assert.True(holderReplica.Log.FirstVersion > 1, $"the holder's log still starts at {holderReplica.Log.FirstVersion}");

            // The first snapshot file the follower's log writes is the install's copy: held there until let go.
            var held = 0;
            followerReplica.Log.SnapshotFileWritten = _ =>
            {
                if (Interlocked.Exchange(ref held, 1) != 0) return;
                inside.Set();
                letGo.Wait(TimeSpan.FromSeconds(30));
            };
            follower.Start([A, B]);
            wire.Drivers[B] = follower;
            Assert.True(inside.Wait(TimeSpan.FromSeconds(30), ct), "the follower never began to install the holder's snapshot");

            // Every message the follower handles takes the lock its status takes.
            var status = Task.Run(() => follower.Status, ct);
            var answered = await Task.WhenAny(status, Task.Delay(TimeSpan.FromSeconds(2), ct)) == status;
            Assert.True(answered, "the follower's driver stayed locked while its snapshot was being copied into the log");
            Assert.True((await status).Applied < holderReplica.Current.Version, "the state was installed before the copy was named");
        }
        finally
        {
            letGo.Set();
        }

        var target = holderReplica.Current.Version;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (followerReplica.Current.Version < target && DateTime.UtcNow < until) await Task.Delay(10, ct);
        Assert.True(followerReplica.Current.Version >= target, $"the follower reached {followerReplica.Current.Version} of {target}");
        Assert.Equal(followerReplica.Log.SnapshotVersion, followerReplica.Current.Version);
        Assert.Equal(Convert.ToHexString(StateSnapshotCodec.Encode(holderReplica.Current)), Convert.ToHexString(StateSnapshotCodec.Encode(followerReplica.Current)));
    }


    public void Dispose() => _replicas.Dispose();
}
