using DinoMesh.Core.Metadata;
using DinoMesh.Volume.Tests.Fakes;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// The log answers a mutation whose sequence is below the lowest of its client's last <see cref="FileSystemState.OpWindow"/>
/// applied ones as a duplicate, and never applies it. Regression: nothing kept a client's mutations in flight within
/// that window, so a commit held up (a write waiting for its chunks' replication) while the node committed a thousand
/// others was answered "done" and dropped. The op window (<see cref="OpWindowGate"/>) now makes a new sequence wait.
/// </summary>
public class OpWindowTests
{
    private const long GenesisNs = 1_700_000_000_000_000_000;
    private static readonly FileName HeldName = FileName.FromString("held");

    private static CreateNode File(FileName name) => new(FileSystemState.RootIno, name, FileMode.Regular | 0x1A4, 0, 0, 0);

    private static bool Exists(FileSystemState state, FileName name) => state.Lookup(FileSystemState.RootIno, name).Error == FsError.None;

    private static HoldingCommitter HoldingTheFirst() =>
        new(new MemoryCommitter(TestVolume.Self, GenesisNs), m => m.Kind is CreateNode { Name: var name } && name == HeldName);

    [Fact]
    public async Task A_commit_held_up_while_the_node_commits_more_than_a_window_of_others_is_applied_not_answered_as_a_retry()
    {
        var ct = TestContext.Current.CancellationToken;
        var meta = HoldingTheFirst();
        var clock = new MutationClock(TimeProvider.System, TestVolume.Self);
        const int Others = FileSystemState.OpWindow + 100;

        var held = clock.CommitAsync(meta, File(HeldName), 0, 0, ct).AsTask();
        var others = new Task<ApplyResult>[Others];
        for (var i = 0; i < Others; i++) others[i] = clock.CommitAsync(meta, File(FileName.FromString($"f{i}")), 0, 0, ct).AsTask();
        // The fake commits the others at once: every one that was let in while the held one is in flight has arrived.
        var alongside = meta.Arrived - 1;
        meta.Release();
        var heldResult = await held.WaitAsync(TimeSpan.FromSeconds(30), ct);
        var results = await Task.WhenAll(others).WaitAsync(TimeSpan.FromSeconds(30), ct);

        Assert.True(heldResult.Ok, $"held: {heldResult.Error}");
        Assert.False(heldResult.Effect.Duplicate, "the held create was answered as a retry of itself and never applied");
        Assert.True(Exists(meta.Current, HeldName), "the held create is not in the tree");
        Assert.All(results, r => Assert.True(r.Ok && !r.Effect.Duplicate, $"{r.Error} duplicate={r.Effect.Duplicate}"));
        Assert.Equal(Others, Enumerable.Range(0, Others).Count(i => Exists(meta.Current, FileName.FromString($"f{i}"))));
        Assert.InRange(alongside, 0, FileSystemState.OpWindow - 1);
        Assert.Equal(0, clock.InFlight);
    }

    [Fact]
    public async Task A_caller_cancelled_while_it_waits_for_room_proposes_nothing_and_the_rest_go_on()
    {
        var ct = TestContext.Current.CancellationToken;
        var meta = HoldingTheFirst();
        var clock = new MutationClock(TimeProvider.System, TestVolume.Self);
        var held = clock.CommitAsync(meta, File(HeldName), 0, 0, ct).AsTask();
        for (var i = 0; i < FileSystemState.OpWindow - 1; i++) Assert.True((await clock.CommitAsync(meta, File(FileName.FromString($"f{i}")), 0, 0, ct)).Ok);
        var arrived = meta.Arrived;

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var waiting = clock.CommitAsync(meta, File(FileName.FromString("cancelled")), 0, 0, cancel.Token).AsTask();
        var after = clock.CommitAsync(meta, File(FileName.FromString("after")), 0, 0, ct).AsTask();
        Assert.Equal(2, clock.Waiting);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10), ct));
        Assert.Equal(1, clock.Waiting);
        Assert.Equal(arrived, meta.Arrived);
        meta.Release();
        Assert.True((await held.WaitAsync(TimeSpan.FromSeconds(10), ct)).Ok);
        Assert.True((await after.WaitAsync(TimeSpan.FromSeconds(10), ct)).Ok);

        Assert.False(Exists(meta.Current, FileName.FromString("cancelled")));
        Assert.True(Exists(meta.Current, FileName.FromString("after")));
        Assert.Equal((0, 0), (clock.InFlight, clock.Waiting));
    }

    [Fact]
    public async Task A_commit_that_is_refused_throws_or_is_cancelled_in_the_committer_gives_its_place_back()
    {
        var ct = TestContext.Current.CancellationToken;
        var throwing = FileName.FromString("throws");
        var meta = new HoldingCommitter(new MemoryCommitter(TestVolume.Self, GenesisNs), m => m.Kind is CreateNode { Name: var name } && name == HeldName)
        {
            Throws = m => m.Kind is CreateNode { Name: var name } && name == throwing,
        };
        var clock = new MutationClock(TimeProvider.System, TestVolume.Self);

        Assert.True((await clock.CommitAsync(meta, File(FileName.FromString("a")), 0, 0, ct)).Ok);
        Assert.Equal(FsError.Exists, (await clock.CommitAsync(meta, File(FileName.FromString("a")), 0, 0, ct)).Error);
        await Assert.ThrowsAsync<IOException>(() => clock.CommitAsync(meta, File(throwing), 0, 0, ct).AsTask());
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var held = clock.CommitAsync(meta, File(HeldName), 0, 0, cancel.Token).AsTask();
        Assert.Equal(1, meta.Held);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => held.WaitAsync(TimeSpan.FromSeconds(10), ct));

        Assert.Equal(0, clock.InFlight);
        // None of them holds the window: a full window's worth of commits, one after another, still goes through.
        for (var i = 0; i < FileSystemState.OpWindow + 1; i++)
        {
            var next = clock.CommitAsync(meta, File(FileName.FromString($"f{i}")), 0, 0, ct);
            Assert.True(next.IsCompleted, $"commit {i} waited for room");
            Assert.True((await next).Ok);
        }
    }
}
