using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// A snapshot written ahead of its naming (<see cref="MetadataLog.BeginSnapshot"/>: a follower's install copies a
/// large snapshot off the lease driver's lock, then names it under the lock) survives other saves meanwhile, becomes
/// current only when completed, and leaves nothing behind when abandoned or overtaken.
/// </summary>
public sealed class MetadataLogPendingSnapshotTests
{
    private static byte[] State(int seed) => [.. Enumerable.Range(0, 5000).Select(i => (byte)(i * seed))];

    [Fact]
    public void A_pending_snapshot_is_not_current_survives_another_save_and_becomes_current_when_completed()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        var pending = fixture.Log.BeginSnapshot(50, 2, stream => stream.Write(State(50)));

        Assert.NotNull(pending);
        Assert.Equal(0, fixture.Log.SnapshotVersion);
        // The replica's own periodic save meanwhile removes every snapshot file it does not name, but not this one.
        fixture.Log.SaveSnapshot(10, 1, State(10));
        Assert.Equal(10, fixture.Log.SnapshotVersion);
        Assert.Contains(pending.File, fixture.SnapshotFiles());

        Assert.True(fixture.Log.CompleteSnapshot(pending));
        Assert.Equal(50, fixture.Log.SnapshotVersion);
        Assert.Equal(50, fixture.Log.LastVersion);
        Assert.Equal(State(50), fixture.Log.LoadSnapshot()!.State);
        Assert.Equal([pending.File], fixture.SnapshotFiles());
    }

    [Fact]
    public void A_crash_before_a_pending_snapshot_is_completed_leaves_the_old_snapshot_current_and_no_file()
    {
        // kill -9 of a node while its install is being prepared off the lease lock: the copy was written, never named.
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        fixture.Log.SaveSnapshot(10, 1, State(10));
        var pending = fixture.Log.BeginSnapshot(50, 2, stream => stream.Write(State(50)))!;

        var log = fixture.Reopen();

        Assert.Equal(10, log.SnapshotVersion);
        Assert.Equal(10, log.LastVersion);
        Assert.Equal(State(10), log.LoadSnapshot()!.State);
        Assert.DoesNotContain(pending.File, fixture.SnapshotFiles());
        Assert.Single(fixture.SnapshotFiles());
    }

    [Fact]
    public void An_abandoned_pending_snapshot_leaves_no_file_and_the_current_one_stays()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        fixture.Log.SaveSnapshot(10, 1, State(10));
        var pending = fixture.Log.BeginSnapshot(50, 2, stream => stream.Write(State(50)))!;

        fixture.Log.AbandonSnapshot(pending);

        Assert.Equal(10, fixture.Log.SnapshotVersion);
        Assert.Equal(State(10), fixture.Log.LoadSnapshot()!.State);
        Assert.Single(fixture.SnapshotFiles());
        Assert.DoesNotContain(pending.File, fixture.SnapshotFiles());
    }

    [Fact]
    public void A_pending_snapshot_overtaken_by_a_newer_save_is_not_named_and_its_file_goes()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 30);
        var pending = fixture.Log.BeginSnapshot(20, 1, stream => stream.Write(State(20)))!;
        fixture.Log.SaveSnapshot(30, 1, State(30));

        Assert.False(fixture.Log.CompleteSnapshot(pending));
        Assert.Equal(30, fixture.Log.SnapshotVersion);
        Assert.Equal(State(30), fixture.Log.LoadSnapshot()!.State);
        Assert.Single(fixture.SnapshotFiles());
        // Nothing at or before the current snapshot is even written.
        Assert.Null(fixture.Log.BeginSnapshot(30, 1, stream => stream.Write(State(30))));
    }
}
