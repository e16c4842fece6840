using System.Collections.Concurrent;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// A follower acknowledges an append before it applies what the append's commit notice committed: the
/// acknowledgement is on the commit's critical path, the apply is not (docs/protocol.md, "Append and commit"). The
/// apply still follows on the same thread, before the call is done, so a read on the follower once the notice's round
/// is over sees the change.
/// </summary>
public sealed class LeaseDriverAnswerFirstTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_follower_answers_an_append_before_applying_what_its_notice_committed_and_applies_it_before_the_call_ends()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (_replicas.Open(), _replicas.Open());
        LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], A), Proposer = A, TimeNs = 1 });
        var wire = new MemoryLeaseNetwork();
        await using var holder = wire.Join(A, holderReplica);
        await using var follower = wire.Join(B, followerReplica);
        holder.Start([A, B]);
        follower.Start([A, B]);
        await LeaseDriverWaits.HolderSettledAsync(holder, ct);
        await LeaseDriverWaits.MakeVoterAsync(holder, B, ct);

        // For each append to the follower that told it of a commit: what it had applied when its answer was handed
        // back, what its notice made appliable (the commit, as far as the follower's log holds it), and what it had
        // applied once the round's after-work was done.
        var atAnswer = new ConcurrentDictionary<Append, (long Applied, long Appliable)>(ReferenceEqualityComparer.Instance);
        var afterRound = new ConcurrentBag<(long Appliable, long Applied)>();
        wire.Answering = (receiver, _, message, answers) =>
        {
            if (receiver != B || message is not Append { Commit: > 0 } append || answers.Count == 0) return;
            atAnswer[append] = (followerReplica.Current.Version, Math.Min(append.Commit, followerReplica.Log.LastVersion));
        };
        wire.AfterAnswer = (receiver, _, message) =>
        {
            if (receiver == B && message is Append append && atAnswer.TryGetValue(append, out var seen)) afterRound.Add((seen.Appliable, followerReplica.Current.Version));
        };

        // One writer streaming changes: each commit's notice rides on the next change's append (or goes alone).
        var committer = new ClusterCommitter(holder, holderReplica, wire.From(A), NullLogger.Instance);
        for (var i = 1; i <= 30; i++)
        {
            Assert.True((await committer.CommitAsync(TempReplicas.CreateInRoot($"f{i}", (ulong)i, A), ct)).Ok);
        }
        var commit = holder.Status.Commit;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (followerReplica.AnnouncedVersion < commit && DateTime.UtcNow < until) await Task.Delay(5, ct);

        var answeredFirst = atAnswer.Values.Count(s => s.Applied < s.Appliable);
        Assert.True(answeredFirst > 0, $"no answer left before the apply of what its append committed ({atAnswer.Count} notices)");
        Assert.NotEmpty(afterRound);
        Assert.All(afterRound, r => Assert.True(r.Applied >= r.Appliable, $"the round ended with {r.Applied} applied of {r.Appliable} committed"));
        // And what readers wait for: every change announced on the follower, the last file there.
        Assert.True(followerReplica.AnnouncedVersion >= commit, $"the follower announced {followerReplica.AnnouncedVersion} of {commit}");
        Assert.Equal(FsError.None, followerReplica.Current.Lookup(FileSystemState.RootIno, FileName.FromString("f30")).Error);
    }

    public void Dispose() => _replicas.Dispose();
}
