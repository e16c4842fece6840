using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// A change this node has applied is committed, and its caller gets its result, not ETIMEDOUT, even when the answer
/// comes after the commit timeout. Several threads apply on a node, and the one announcing a round answers the callers
/// of every change in it, after the listeners and answers of the changes before: a stalled announcer (a loaded machine,
/// a slow listener) made a lone node's create fail with "timed out: no holder reachable with a majority" although the
/// holder was the node itself and the file had been created.
/// </summary>
public sealed class CommitAnsweredLateTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    // Short, so the stall below outlasts it; the late answer is still waited for (up to one more timeout).
    private static readonly LeaseTiming Timing = new() { CommitTimeout = TimeSpan.FromMilliseconds(800) };
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_lone_holders_change_answered_after_the_commit_timeout_is_its_result_not_ETIMEDOUT()
    {
        var ct = TestContext.Current.CancellationToken;
        var replica = _replicas.Founded(A);
        var wire = new MemoryLeaseNetwork();
        var lease = wire.Join(A, replica, Timing);
        lease.Start([]);
        await using var _ = lease;
        var committer = new ClusterCommitter(lease, replica, wire.From(A), NullLogger.Instance);
        Assert.True((await committer.CommitAsync(TempReplicas.CreateInRoot("warm", 1, A), ct)).Ok);

        // The thread that applies "first" stalls in a listener while it announces, as a starved thread would.
        using var announcing = new ManualResetEventSlim();
        using var resume = new ManualResetEventSlim();
        replica.Applied += (mutation, _) =>
        {
            if (mutation.Op?.Seq != 2) return;
            announcing.Set();
            resume.Wait(Patience);
        };
        var first = Task.Run(() => committer.CommitAsync(TempReplicas.CreateInRoot("first", 2, A), ct).AsTask(), ct);
        Assert.True(announcing.Wait(Patience, ct), "the first change was never announced");

        // "second" is appended and applied at once (the lone holder is its own majority), but its answer waits for
        // the stalled announcer, which resumes only after the second commit's timeout.
        var second = committer.CommitAsync(TempReplicas.CreateInRoot("second", 3, A), ct).AsTask();
        await Task.Delay(Timing.CommitTimeout + TimeSpan.FromMilliseconds(300), ct);
        Assert.True(replica.Current.Lookup(FileSystemState.RootIno, FileName.FromString("second")).Inode is not null, "second was not applied");
        resume.Set();

        var result = await second.WaitAsync(Patience, ct);
        Assert.True(result.Ok, $"a change applied here was answered {result.Error}");
        Assert.True((await first.WaitAsync(Patience, ct)).Ok);
    }

    public void Dispose() => _replicas.Dispose();
}
