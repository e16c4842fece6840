using System.Collections.Concurrent;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// A follower's after-work of the lease calls it answers (apply, announce, send) runs on its driver's own thread,
/// <c>dino-afterwork</c>, signalled by the call and coalesced (docs/protocol.md, "apply"): every committed entry is
/// still applied there in version order, exactly once, and a proposer on the follower, which waits for the
/// replica's announcement, still sees its change.
/// </summary>
public sealed class LeaseDriverAfterWorkTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_followers_after_work_thread_applies_every_committed_entry_in_order_and_answers_its_proposer()
    {
        var ct = TestContext.Current.CancellationToken;
        var holderReplica = _replicas.Founded(A);
        var followerReplica = _replicas.Open();
        var wire = new MemoryLeaseNetwork(proposeToHolder: true);
        await using var holder = wire.Join(A, holderReplica);
        // The follower's ticks are an hour long: its tick loop, which also applies, passes once at its start and then
        // sleeps through the test (a learner has nothing due sooner), so only the after-work its calls signal
        // applies there. Its proposer gives up after 5 s, well inside the test's own deadline.
        await using var follower = wire.Join(B, followerReplica, new LeaseTiming { Tick = TimeSpan.FromHours(1), CommitTimeout = TimeSpan.FromSeconds(5) });
        var applied = new ConcurrentQueue<(long Version, string? Thread)>();
        followerReplica.Applied += (_, result) => applied.Enqueue((result.State.Version, Thread.CurrentThread.Name));
        // The holder is the only voter; the follower a learner it replicates to, whose proposals it takes.
        holder.Start([A, B]);
        follower.Start([A, B]);
        await LeaseDriverWaits.HolderSettledAsync(holder, ct);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (follower.Status.Holder != A && DateTime.UtcNow < until) await Task.Delay(5, ct);
        Assert.Equal(A, follower.Status.Holder);

        var onHolder = new ClusterCommitter(holder, holderReplica, wire.From(A), NullLogger.Instance);
        var onFollower = new ClusterCommitter(follower, followerReplica, wire.From(B), NullLogger.Instance);
        for (var i = 1; i <= 10; i++) Assert.True((await onHolder.CommitAsync(TempReplicas.CreateInRoot($"a{i}", (ulong)i, A), ct)).Ok);
        // Applied and announced on the follower only by its after-work: without a signal it would wait out its time.
        var mine = await onFollower.CommitAsync(TempReplicas.CreateInRoot("b1", 100, B), ct);
        Assert.True(mine.Ok, $"the follower's own change: {mine.Error}");
        Assert.Equal(FsError.None, followerReplica.Current.Lookup(FileSystemState.RootIno, FileName.FromString("b1")).Error);
        var ownVersion = mine.State.Version;
        for (var i = 11; i <= 20; i++) Assert.True((await onHolder.CommitAsync(TempReplicas.CreateInRoot($"a{i}", (ulong)i, A), ct)).Ok);

        var commit = holder.Status.Commit;
        until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (followerReplica.AnnouncedVersion < commit && DateTime.UtcNow < until) await Task.Delay(5, ct);
        Assert.True(followerReplica.AnnouncedVersion >= commit, $"the follower announced {followerReplica.AnnouncedVersion} of {commit}");
        Assert.Equal(FsError.None, followerReplica.Current.Lookup(FileSystemState.RootIno, FileName.FromString("a20")).Error);

        // Every entry once, in version order, from the genesis on.
        var versions = applied.Select(a => a.Version).ToList();
        Assert.Equal(Enumerable.Range(1, versions.Count).Select(v => (long)v), versions);
        Assert.True(versions[^1] >= commit);
        // Applied on the after-work thread, not on the thread that delivered the call (the transport's reader). Counted
        // from the follower's own change: long after the tick loop's one pass at the start.
        var late = applied.Where(a => a.Version >= ownVersion).ToList();
        Assert.NotEmpty(late);
        Assert.All(late, a => Assert.Equal("dino-afterwork", a.Thread));
    }

    public void Dispose() => _replicas.Dispose();
}
