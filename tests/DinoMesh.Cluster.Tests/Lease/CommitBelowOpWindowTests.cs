using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// What the commit path does with a mutation whose sequence is below a full op window of its client (1,024 later
/// sequences applied first): the holder takes it for an old retry, answers <c>Duplicate</c> and never appends it, and
/// its caller waits out the commit timeout twice and gets ETIMEDOUT for a change that was never made. The committer
/// cannot tell it from a retry; the proposer's op window (the volume's <c>MutationClock</c>) is what keeps such a
/// mutation from being stamped. This pins down the consequence that rule prevents.
/// </summary>
public sealed class CommitBelowOpWindowTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly LeaseTiming Timing = new() { CommitTimeout = TimeSpan.FromMilliseconds(800) };
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_mutation_a_full_window_below_its_clients_applied_ones_is_never_applied_and_its_caller_times_out()
    {
        var ct = TestContext.Current.CancellationToken;
        var replica = _replicas.Founded(A);
        var wire = new MemoryLeaseNetwork();
        var lease = wire.Join(A, replica, Timing);
        lease.Start([]);
        await using var _ = lease;
        var committer = new ClusterCommitter(lease, replica, wire.From(A), NullLogger.Instance);
        for (var seq = 2UL; seq <= FileSystemState.OpWindow + 1; seq++)
        {
            Assert.True((await committer.CommitAsync(TempReplicas.CreateInRoot($"f{seq}", seq, A), ct)).Ok);
        }

        var late = await committer.CommitAsync(TempReplicas.CreateInRoot("late", 1, A), ct).AsTask().WaitAsync(Timing.CommitTimeout * 10, ct);

        Assert.Equal(FsError.TimedOut, late.Error);
        Assert.Null(replica.Current.Lookup(FileSystemState.RootIno, FileName.FromString("late")).Inode);
    }

    public void Dispose() => _replicas.Dispose();
}
