using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// A change another node made is visible through this node's mount only once the invalidator has told the kernel
/// what it made stale (it writes on its own task, after the change was applied and announced). The wait that
/// <c>dino-node status</c> makes before it reports a version as applied ends only then.
/// </summary>
public class InvalidationWrittenTests
{
    private const ulong Root = FileSystemState.RootIno;

    [Fact]
    public async Task The_wait_ends_only_after_every_queued_notification_was_written()
    {
        using var kernelBusy = new ManualResetEventSlim(false);
        var notifier = new SlowKernel(kernelBusy);
        var kernel = new KernelInodes();
        kernel.Given(5);
        var invalidator = new CacheInvalidator(NullLogger.Instance, new LookupAnswers(TimeProvider.System), kernel,
            new NegativeAnswers(TimeSpan.FromSeconds(5), TimeProvider.System), new DirectoryAttributes());
        invalidator.Start(notifier);

        invalidator.Enqueue(new Effect { Touched = [5], ContentChanged = [5] });

        Assert.False(await invalidator.WaitWrittenAsync(TimeSpan.FromMilliseconds(100), TestContext.Current.CancellationToken),
            "the wait ended while the kernel had not been told");
        kernelBusy.Set();
        Assert.True(await invalidator.WaitWrittenAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(1, notifier.Told);
        invalidator.Stop();
    }

    [Fact]
    public async Task With_nothing_queued_the_wait_ends_at_once()
    {
        var kernel = new KernelInodes();
        var invalidator = new CacheInvalidator(NullLogger.Instance, new LookupAnswers(TimeProvider.System), kernel,
            new NegativeAnswers(TimeSpan.FromSeconds(5), TimeProvider.System), new DirectoryAttributes());
        invalidator.Start(new SlowKernel(null));
        // An effect on nothing the kernel holds is not queued at all.
        invalidator.Enqueue(new Effect { Touched = [Root + 40], ContentChanged = [Root + 40] });

        Assert.True(await invalidator.WaitWrittenAsync(TimeSpan.Zero, TestContext.Current.CancellationToken));
        invalidator.Stop();
    }

    /// <summary>A kernel that takes its time over each notification (until <c>busy</c> is set), as a loaded machine's does.</summary>
    private sealed class SlowKernel(ManualResetEventSlim? busy) : IFuseNotifier
    {
        private int _told;

        public int Told => Volatile.Read(ref _told);

        public int InvalidateInode(ulong ino, long offset, long length)
        {
            busy?.Wait(TimeSpan.FromSeconds(30));
            Interlocked.Increment(ref _told);
            return 0;
        }

        public int InvalidateEntry(ulong parent, ReadOnlySpan<byte> name) => InvalidateInode(parent, 0, 0);

        public int Delete(ulong parent, ulong child, ReadOnlySpan<byte> name) => InvalidateInode(parent, 0, 0);
    }
}
