using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// Two lease drivers on real logs in temp directories: a follower behind the holder's compacted log gets the holder's
/// state as a snapshot in many small pieces, through the holder's snapshot file and its own temp file, and installs
/// exactly the holder's state; what a previous run left of a transfer is removed at start.
/// </summary>
public sealed class LeaseDriverSnapshotTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_follower_behind_the_compacted_log_installs_the_holders_state_from_many_pieces()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (OpenReplica(), OpenReplica());
        LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], A), Proposer = A, TimeNs = 1 });
        var timing = new LeaseTiming { Machine = LeaseConfig.Default with { SnapshotPieceBytes = 16 } };
        var wire = new MemoryLeaseNetwork();
        var holder = new LeaseDriver(A, holderReplica, wire.From(A), timing, NullLogger.Instance);
        var follower = new LeaseDriver(B, followerReplica, wire.From(B), timing, NullLogger.Instance);
        await using var _ = holder;
        await using var __ = follower;
        wire.Drivers[A] = holder;
        holder.Start([A, B]);

        // Two snapshots on the holder: the second drops the log up to the first, so B cannot catch up from the log.
        ulong seq = 0;
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 40; i++) await LeaseDriverWaits.ProposeAndApplyAsync(holder, holderReplica, new Mutation { Kind = new Noop(), Proposer = A, Op = new OpId([1], ++seq) }, ct);
            holderReplica.Snapshot();
        }
        Assert.True(holderReplica.Log.FirstVersion > 1, $"the holder's log still starts at {holderReplica.Log.FirstVersion}");

        // A transfer a crash interrupted left its temp file: it goes at start, before anything comes in.
        var leftover = Path.Combine(follower.SnapshotDirectory, "lease-snapshot-in.tmp");
        await File.WriteAllBytesAsync(leftover, [1, 2, 3], ct);
        follower.Start([A, B]);
        Assert.False(File.Exists(leftover), "the previous run's snapshot temp file is still there");
        wire.Drivers[B] = follower;

        var target = holderReplica.Current.Version;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (followerReplica.Current.Version < target && DateTime.UtcNow < until) await Task.Delay(10, ct);

        Assert.True(followerReplica.Current.Version >= target, $"the follower reached {followerReplica.Current.Version} of {target}");
        Assert.True(followerReplica.Log.SnapshotVersion > 0, "the follower caught up without a snapshot");
        var size = StateSnapshotCodec.Encode(holderReplica.Current).Length;
        Assert.True(wire.Pieces >= size / 16, $"{wire.Pieces} pieces for a snapshot of {size} bytes in pieces of 16");
        Assert.Equal(Convert.ToHexString(StateSnapshotCodec.Encode(holderReplica.Current)), Convert.ToHexString(StateSnapshotCodec.Encode(followerReplica.Current)));
        Assert.False(File.Exists(leftover), "the assembled snapshot's temp file is still there after the install");
    }


    private MetadataReplica OpenReplica() => _replicas.Open();

    public void Dispose() => _replicas.Dispose();
}
