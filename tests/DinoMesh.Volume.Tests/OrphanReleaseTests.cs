using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// Orphans that another node's removals leave waiting here are released in batches (<see cref="OrphanReleases"/>):
/// one commit for many, never one that is still open here, and the open one at its last close.
/// </summary>
public sealed class OrphanReleaseTests
{
    private static readonly FuseContext Owner = Caller(1000, 1000);

    [Fact]
    public async Task Files_removed_elsewhere_are_released_here_in_one_commit_not_one_each()
    {
        using var volume = new TestVolume(new VolumeOptions { OrphanReleaseLinger = TimeSpan.FromMilliseconds(300) });
        var files = new List<ulong>();
        for (var i = 0; i < 20; i++) files.Add(await volume.WriteFileAsync(Owner, $"f{i}", Bytes(100, (byte)i)));

        // The other member removes them; it cannot know whether this node holds them open, so each waits here.
        for (var i = 0; i < 20; i++) Assert.Equal(new[] { files[i] }, volume.Meta.ApplyRemote(new RemoveEntry(FileSystemState.RootIno, FileName.FromString($"f{i}"), false)).Effect.Orphaned);
        Assert.All(files, ino => Assert.Contains(Self, volume.Meta.Current.Orphans[ino]));

        await WaitUntilAsync(() => files.All(ino => !volume.Meta.Current.Orphans.TryGetValue(ino, out var holders) || !holders.Contains(Self)));
        var release = Assert.Single(volume.Meta.CommittedOf<ReleaseOrphans>());
        Assert.Equal(files.Order(), release.Inos.Order());
    }

    [Fact]
    public async Task A_file_removed_elsewhere_while_open_here_is_left_out_of_the_batch_and_released_at_its_close()
    {
        using var volume = new TestVolume(new VolumeOptions { OrphanReleaseLinger = TimeSpan.FromMilliseconds(20) });
        var open = await volume.WriteFileAsync(Owner, "open", Bytes(100, 1));
        var closed = await volume.WriteFileAsync(Owner, "closed", Bytes(100, 2));
        var fh = await volume.OpenAsync(Owner, open);

        volume.Meta.ApplyRemote(new RemoveEntry(FileSystemState.RootIno, FileName.FromString("open"), false));
        volume.Meta.ApplyRemote(new RemoveEntry(FileSystemState.RootIno, FileName.FromString("closed"), false));

        await WaitUntilAsync(() => !volume.Meta.Current.Orphans[closed].Contains(Self));
        Assert.Equal(new[] { closed }, Assert.Single(volume.Meta.CommittedOf<ReleaseOrphans>()).Inos);
        Assert.Contains(Self, volume.Meta.Current.Orphans[open]);
        Assert.Equal(Bytes(100, 1), await volume.ReadAsync(Owner, open, fh, 0, 100));

        await volume.CloseAsync(Owner, open, fh);
        Assert.False(volume.Meta.Current.Orphans.TryGetValue(open, out var holders) && holders.Contains(Self));
        Assert.Equal(2, volume.Meta.CommittedOf<ReleaseOrphans>().Count);
    }

    [Fact]
    public async Task Orphans_still_queued_when_the_node_dies_are_released_by_its_next_start()
    {
        // A linger that never ends inside the test: the releases are queued and never committed, as when kill -9
        // takes the process with its queue. The log (here the committer's state) keeps the orphans naming this node.
        using var volume = new TestVolume(new VolumeOptions { OrphanReleaseLinger = TimeSpan.FromHours(1) });
        var files = new List<ulong>();
        for (var i = 0; i < 3; i++) files.Add(await volume.WriteFileAsync(Owner, $"f{i}", Bytes(100, (byte)i)));
        for (var i = 0; i < 3; i++) volume.Meta.ApplyRemote(new RemoveEntry(FileSystemState.RootIno, FileName.FromString($"f{i}"), false));
        Assert.Empty(volume.Meta.CommittedOf<ReleaseOrphans>());

        // The next start of the node: a new volume over the same log, before it serves anything.
        var restarted = new DinoFileSystem(volume.Meta, new ChunkAccess(volume.Store, NullLogger.Instance), new MutationClock(TimeProvider.System, Self),
            new VolumeOptions(), NullLogger.Instance);
        await restarted.ReclaimOrphansAsync(TestContext.Current.CancellationToken);

        Assert.Equal(files.Order(), Assert.Single(volume.Meta.CommittedOf<ReleaseOrphans>()).Inos.Order());
        Assert.All(files, ino => Assert.DoesNotContain(Self, volume.Meta.Current.Orphans[ino]));
    }

    [Fact]
    public async Task Orphans_that_come_while_a_release_runs_go_together_in_the_next_after_the_linger()
    {
        var time = new FakeTimeProvider();
        var calls = new List<ulong[]>();
        var running = new TaskCompletionSource();
        var firstDone = new TaskCompletionSource();
        var releases = new OrphanReleases(batch =>
        {
            lock (calls) calls.Add(batch);
            if (calls.Count > 1) return Task.CompletedTask;
            running.SetResult();
            return firstDone.Task;
        }, TimeSpan.FromMilliseconds(10), time);

        releases.Add([1]);
        time.Advance(TimeSpan.FromMilliseconds(9));
        Assert.Empty(calls);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await running.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        // While the first release is out, more orphans come: they wait for it, then for the linger.
        for (ulong ino = 2; ino <= 100; ino++) releases.Add([ino]);
        Assert.Equal(99, releases.Waiting);
        firstDone.SetResult();
        await WaitUntilAsync(() => { time.Advance(TimeSpan.FromMilliseconds(10)); lock (calls) return calls.Count == 2; });

        lock (calls)
        {
            Assert.Equal(1UL, Assert.Single(calls[0]));
            Assert.Equal(Enumerable.Range(2, 99).Select(i => (ulong)i), calls[1].Order());
        }
        Assert.Equal(0, releases.Waiting);
    }

    [Fact]
    public async Task More_orphans_than_one_release_takes_are_released_in_several()
    {
        var time = new FakeTimeProvider();
        var calls = new List<ulong[]>();
        var releases = new OrphanReleases(batch =>
        {
            lock (calls) calls.Add(batch);
            return Task.CompletedTask;
        }, TimeSpan.FromMilliseconds(10), time);

        var many = Enumerable.Range(1, OrphanReleases.MaxBatch + 5).Select(i => (ulong)i).ToArray();
        releases.Add(many);
        await WaitUntilAsync(() => { time.Advance(TimeSpan.FromMilliseconds(10)); return releases.Waiting == 0 && calls.Count == 2; });

        lock (calls)
        {
            Assert.Equal(OrphanReleases.MaxBatch, calls[0].Length);
            Assert.Equal(5, calls[1].Length);
            Assert.Equal(many, calls.SelectMany(c => c).Order());
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, "not within 20 s");
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }
}
