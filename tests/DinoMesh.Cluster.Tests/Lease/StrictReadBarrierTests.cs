using System.Diagnostics;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The read barrier an O_APPEND open takes (<see cref="ClusterCommitter.StrictReadBarrierAsync"/>): it returns true
/// only once this node has announced the holder's commit version, and on a node that cannot learn that version it
/// fails after the commit timeout, where the plain barrier goes on with the local state (load/nemesis.py: an appender
/// cut off from the holder wrote at a stale end of file).
/// </summary>
public sealed class StrictReadBarrierTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private static readonly LeaseTiming Timing = new() { CommitTimeout = TimeSpan.FromSeconds(3) };
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task On_a_follower_it_returns_once_the_holders_commit_is_announced_there()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (_replicas.Founded(A), _replicas.Open());
        var wire = new MemoryLeaseNetwork();
        var (holder, follower) = await HolderAndVoterAsync(wire, holderReplica, followerReplica, ct);
        await using var _ = holder;
        await using var __ = follower;
        var onHolder = new ClusterCommitter(holder, holderReplica, wire.From(A), NullLogger.Instance);
        var onFollower = new ClusterCommitter(follower, followerReplica, wire.From(B), NullLogger.Instance);

        for (var i = 1; i <= 20; i++) Assert.True((await onHolder.CommitAsync(TempReplicas.CreateInRoot($"f{i}", (ulong)i, A), ct)).Ok);
        var committed = holderReplica.Current.Version;

        Assert.True(await onFollower.StrictReadBarrierAsync(ct));
        Assert.True(followerReplica.AnnouncedVersion >= committed, $"the barrier returned at {followerReplica.AnnouncedVersion} of {committed}");
    }

    [Fact]
    public async Task On_a_follower_cut_off_from_the_holder_it_fails_after_the_commit_timeout_where_the_plain_one_goes_on()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (_replicas.Founded(A), _replicas.Open());
        var wire = new MemoryLeaseNetwork();
        var (holder, follower) = await HolderAndVoterAsync(wire, holderReplica, followerReplica, ct);
        await using var _ = holder;
        await using var __ = follower;
        var onFollower = new ClusterCommitter(follower, followerReplica, wire.From(B), NullLogger.Instance);
        Assert.True(await onFollower.StrictReadBarrierAsync(ct));

        // Nothing B sends reaches A any more: its questions for the commit version go unanswered.
        Assert.True(wire.Drivers.TryRemove(A, out var ___));

        var plain = Stopwatch.StartNew();
        await onFollower.ReadBarrierAsync(ct);
        plain.Stop();
        var strict = Stopwatch.StartNew();
        var learned = await onFollower.StrictReadBarrierAsync(ct).AsTask().WaitAsync(Timing.CommitTimeout * 4, ct);
        strict.Stop();

        Assert.False(learned, "the strict barrier returned true on a node no answer reaches");
        Assert.True(strict.Elapsed >= Timing.CommitTimeout - TimeSpan.FromMilliseconds(200), $"the strict barrier gave up after {strict.ElapsedMilliseconds} ms, before the commit timeout");
        Assert.True(plain.Elapsed < Timing.CommitTimeout, $"the plain barrier took {plain.ElapsedMilliseconds} ms: it should go on with the local state");
    }

    /// <summary>A holder on A and a voter on B, both started on <paramref name="wire"/>.</summary>
    private static async Task<(LeaseDriver Holder, LeaseDriver Follower)> HolderAndVoterAsync(
        MemoryLeaseNetwork wire, MetadataReplica holderReplica, MetadataReplica followerReplica, CancellationToken ct)
    {
        var holder = wire.Join(A, holderReplica, Timing);
        var follower = wire.Join(B, followerReplica, Timing);
        holder.Start([A, B]);
        follower.Start([A, B]);
        await LeaseDriverWaits.HolderSettledAsync(holder, ct);
        await LeaseDriverWaits.MakeVoterAsync(holder, B, ct);
        return (holder, follower);
    }

    public void Dispose() => _replicas.Dispose();
}
