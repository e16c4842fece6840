using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The apply of a commit on a replica (every follower's, and the holder's when it did not check the change itself)
/// reads the record it applies from the log's memory, where the append just put it: what it allocates besides the
/// decode and the apply is a bound on bytes, not a timing (docs/benchmarks.md, allocations per commit round).
/// </summary>
public sealed class ReplicaApplyAllocationTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public void Applying_a_commit_just_appended_reads_its_record_without_a_range()
    {
        var replica = _replicas.Founded(A);
        // A no-op is the cheapest change to decode and apply, so what the read of its record costs shows.
        var payload = MutationCodec.Encode(new Mutation { Kind = new Noop(), Proposer = A, TimeNs = 1 });
        const int Commits = 500;
        long bytes = 0;
        for (var i = 0; i < 2 * Commits; i++)
        {
            var version = replica.Current.Version + 1;
            replica.Log.Append(version, 1, payload);
            var before = GC.GetAllocatedBytesForCurrentThread();
            replica.ApplyCommitted(version);
            if (i >= Commits) bytes += GC.GetAllocatedBytesForCurrentThread() - before;
        }
        var perCommit = bytes / (double)Commits;
        // The decoded mutation, the state, the result queued and the announcement's batch: about 440 bytes. The range
        // read (its enumerator and a list of the records) made it 632.
        Assert.True(perCommit <= 500, $"{perCommit:F0} bytes per commit applied");
    }

    public void Dispose() => _replicas.Dispose();
}
