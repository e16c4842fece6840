using System.Collections.Concurrent;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// An inode invalidation the kernel refuses with ENOENT because it was still building the inode from an entry reply
/// computed before the change would leave the old attributes cached for the attribute timeout. The invalidator says it
/// again for inodes this node named in a reply a moment ago, and only for those.
/// </summary>
public class InvalidationRetryTests
{
    [Fact]
    public async Task A_refused_invalidation_of_an_inode_just_named_in_a_reply_is_said_again()
    {
        var notifier = new KernelLearningLate(knownAfterCalls: 1);
        var answers = new LookupAnswers(TimeProvider.System);
        answers.Answered(5);
        var kernel = new KernelInodes();
        kernel.Given(5);
        var invalidator = new CacheInvalidator(NullLogger.Instance, answers, kernel, new NegativeAnswers(TimeSpan.FromSeconds(5), TimeProvider.System), new DirectoryAttributes());
        invalidator.Start(notifier);

        invalidator.Enqueue(new Effect { Touched = [5], ContentChanged = [5] });

        Assert.True(await Eventually(() => notifier.Accepted.Contains(5UL)), "the invalidation was not said again");
        Assert.True(notifier.Calls[5] >= 2);
        invalidator.Stop();
    }

    [Fact]
    public async Task A_refused_invalidation_of_an_inode_not_named_lately_is_not_repeated()
    {
        var notifier = new KernelLearningLate(knownAfterCalls: 1);
        var kernel = new KernelInodes();
        kernel.Given(7);
        kernel.Given(8);
        var invalidator = new CacheInvalidator(NullLogger.Instance, new LookupAnswers(TimeProvider.System), kernel, new NegativeAnswers(TimeSpan.FromSeconds(5), TimeProvider.System), new DirectoryAttributes());
        invalidator.Start(notifier);

        invalidator.Enqueue(new Effect { Touched = [7], ContentChanged = [7] });
        invalidator.Enqueue(new Effect { Touched = [8] });

        // The second effect was handled after the first: by then any retry of 7 would have been scheduled.
        Assert.True(await Eventually(() => notifier.Calls.ContainsKey(8)));
        await Task.Delay(CacheInvalidator.RetryAfter[^1] + TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken);
        Assert.Equal(1, notifier.Calls[7]);
    }

    private static async Task<bool> Eventually(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++) await Task.Delay(10);
        return condition();
    }

    /// <summary>A kernel that learns of each inode only after some invalidations of it have been refused.</summary>
    private sealed class KernelLearningLate(int knownAfterCalls) : IFuseNotifier
    {
        public ConcurrentDictionary<ulong, int> Calls { get; } = new();

        public ConcurrentBag<ulong> Accepted { get; } = [];

        public int InvalidateInode(ulong ino, long offset, long length)
        {
            var call = Calls.AddOrUpdate(ino, 1, (_, n) => n + 1);
            if (call <= knownAfterCalls) return Errno.ENOENT;
            Accepted.Add(ino);
            return 0;
        }

        public int InvalidateEntry(ulong parent, ReadOnlySpan<byte> name) => 0;

        public int Delete(ulong parent, ulong child, ReadOnlySpan<byte> name) => 0;
    }
}
