using System.Collections.Concurrent;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// The kernel caches only what an entry reply gave it and has not forgotten, so a change made elsewhere to anything
/// else needs no notification here; what it may hold is still invalidated as before.
/// </summary>
public class KernelInodesTests
{
    private const ulong Root = FileSystemState.RootIno;

    [Fact]
    public void The_kernel_holds_an_inode_from_its_first_reply_until_it_forgets_every_lookup()
    {
        var kernel = new KernelInodes();
        Assert.True(kernel.MayHold(Root));
        Assert.False(kernel.MayHold(5));

        kernel.Given(5);
        kernel.Given(5);
        kernel.Forgotten(5, 1);
        Assert.True(kernel.MayHold(5));
        kernel.Forgotten(5, 1);
        Assert.False(kernel.MayHold(5));

        // A forget of more than was counted (a reply the kernel never took) leaves nothing behind either.
        kernel.Given(6);
        kernel.Forgotten(6, 3);
        Assert.False(kernel.MayHold(6));
        kernel.Forgotten(7, 1);
        Assert.False(kernel.MayHold(7));
    }

    [Fact]
    public async Task A_change_to_inodes_and_names_the_kernel_never_had_is_not_announced()
    {
        var (notifier, kernel, negatives, invalidator) = Started();

        // A file created elsewhere in a directory this kernel never looked into, then written.
        invalidator.Enqueue(new Effect { Ino = 9, Touched = [8, 9], Entries = [new EntryChange(8, Name("f"), 0, 9)] });
        invalidator.Enqueue(new Effect { Touched = [9], ContentChanged = [9] });
        // Something it holds, after them: once that is said, the others would have been too.
        invalidator.Enqueue(new Effect { Touched = [Root] });

        Assert.True(await Eventually(() => notifier.Inodes.Contains(Root)));
        Assert.Equal([Root], notifier.Inodes);
        Assert.Empty(notifier.Entries);
        invalidator.Stop();
    }

    [Fact]
    public async Task What_the_kernel_was_given_and_has_not_forgotten_is_announced()
    {
        var (notifier, kernel, negatives, invalidator) = Started();
        kernel.Given(8);
        kernel.Given(9);
        kernel.Given(10);
        kernel.Forgotten(10, 1);
        // The name was answered absent here before it was created elsewhere: the kernel may cache that.
        negatives.Given(8, Name("f"));

        invalidator.Enqueue(new Effect { Ino = 9, Touched = [8, 9], Entries = [new EntryChange(8, Name("f"), 0, 9)] });
        invalidator.Enqueue(new Effect { Touched = [10], ContentChanged = [10] });
        invalidator.Enqueue(new Effect { Touched = [9], ContentChanged = [9] });

        Assert.True(await Eventually(() => notifier.Inodes.Count(i => i == 9) == 2));
        Assert.Contains(8UL, notifier.Inodes);
        Assert.DoesNotContain(10UL, notifier.Inodes);
        Assert.Equal([(8UL, "f")], notifier.Entries);
        invalidator.Stop();
    }

    [Fact]
    public async Task A_name_created_elsewhere_is_announced_only_if_this_kernel_may_cache_it_as_absent()
    {
        var (notifier, kernel, negatives, invalidator) = Started();
        kernel.Given(8);
        negatives.Given(8, Name("asked"));

        // Two names appear in a directory the kernel holds; only "asked" was answered absent here.
        invalidator.Enqueue(new Effect { Ino = 9, Touched = [8, 9], Entries = [new EntryChange(8, Name("new"), 0, 9)] });
        invalidator.Enqueue(new Effect { Ino = 10, Touched = [8, 10], Entries = [new EntryChange(8, Name("asked"), 0, 10)] });
        // A name that did exist (renamed over) is said whatever was asked.
        invalidator.Enqueue(new Effect { Touched = [8], Entries = [new EntryChange(8, Name("old"), 11, 12)] });

        Assert.True(await Eventually(() => notifier.Entries.Count >= 2 && notifier.Inodes.Count(i => i == 8) == 3));
        Assert.Equal([(8UL, "asked"), (8UL, "old")], notifier.Entries);
        invalidator.Stop();
    }

    [Fact]
    public async Task A_name_created_elsewhere_that_this_kernel_cannot_cache_wakes_no_worker()
    {
        var (notifier, kernel, negatives, invalidator, directories) = StartedWithDirectories();
        kernel.Given(8);
        directories.Given(8);
        negatives.Given(8, Name("asked"));

        // A writer elsewhere creates files in a directory this kernel holds: the first create invalidates the
        // directory's attributes (given to the kernel before), and the names, never answered absent here, need nothing.
        invalidator.Enqueue(new Effect { Ino = 9, Touched = [8, 9], Entries = [new EntryChange(8, Name("f9"), 0, 9)] });
        Assert.True(await Eventually(() => notifier.Inodes.Contains(8UL)));
        Assert.Equal(1, invalidator.Queued);
        for (ulong child = 10; child <= 20; child++)
        {
            invalidator.Enqueue(new Effect { Ino = child, Touched = [8, child], Entries = [new EntryChange(8, Name($"f{child}"), 0, child)] });
        }
        Assert.Equal(1, invalidator.Queued);

        // A name answered absent here is still said, and so is one that existed before (renamed over).
        invalidator.Enqueue(new Effect { Ino = 21, Touched = [8, 21], Entries = [new EntryChange(8, Name("asked"), 0, 21)] });
        invalidator.Enqueue(new Effect { Touched = [8], Entries = [new EntryChange(8, Name("old"), 22, 23)] });
        Assert.Equal(3, invalidator.Queued);
        Assert.True(await Eventually(() => notifier.Entries.Count >= 2));
        Assert.Equal([(8UL, "asked"), (8UL, "old")], notifier.Entries);
        Assert.DoesNotContain(notifier.Entries, e => e.Name.StartsWith('f'));
        invalidator.Stop();
    }

    [Fact]
    public async Task A_directory_s_attributes_are_invalidated_once_until_the_kernel_is_given_them_again()
    {
        var (notifier, kernel, _, invalidator, directories) = StartedWithDirectories();
        kernel.Given(8);
        directories.Given(8);
        kernel.Given(20);

        // Three files created elsewhere in directory 8, and three changes to file 20's attributes (chmod elsewhere).
        for (ulong child = 9; child <= 11; child++)
        {
            invalidator.Enqueue(new Effect { Ino = child, Touched = [8, child], Entries = [new EntryChange(8, Name($"f{child}"), 0, child)] });
            invalidator.Enqueue(new Effect { Touched = [20] });
        }
        Assert.True(await Eventually(() => notifier.Inodes.Count(i => i == 20) == 3));
        Assert.Equal(1, notifier.Inodes.Count(i => i == 8));
        // A stat of the directory here gives the kernel its attributes again: the next change is invalidated again.
        directories.Given(8);
        invalidator.Enqueue(new Effect { Ino = 12, Touched = [8, 12], Entries = [new EntryChange(8, Name("f12"), 0, 12)] });
        // Forgotten by the kernel and looked up again: unknown, so invalidated whatever was said before.
        Assert.True(await Eventually(() => notifier.Inodes.Count(i => i == 8) == 2));
        directories.Forgotten(8);
        invalidator.Enqueue(new Effect { Touched = [8] });

        Assert.True(await Eventually(() => notifier.Inodes.Count(i => i == 8) == 3));
        await Task.Delay(50);
        Assert.Equal(3, notifier.Inodes.Count(i => i == 8));
        Assert.Equal(3, notifier.Inodes.Count(i => i == 20));
        invalidator.Stop();
    }

    private static (RecordingNotifier Notifier, KernelInodes Kernel, NegativeAnswers Negatives, CacheInvalidator Invalidator) Started()
    {
        var (notifier, kernel, negatives, invalidator, _) = StartedWithDirectories();
        return (notifier, kernel, negatives, invalidator);
    }

    private static (RecordingNotifier Notifier, KernelInodes Kernel, NegativeAnswers Negatives, CacheInvalidator Invalidator, DirectoryAttributes Directories)
        StartedWithDirectories()
    {
        var notifier = new RecordingNotifier();
        var kernel = new KernelInodes();
        var negatives = new NegativeAnswers(TimeSpan.FromSeconds(5), TimeProvider.System);
        var directories = new DirectoryAttributes();
        var invalidator = new CacheInvalidator(NullLogger.Instance, new LookupAnswers(TimeProvider.System), kernel, negatives, directories);
        invalidator.Start(notifier);
        return (notifier, kernel, negatives, invalidator, directories);
    }

    private static FileName Name(string s) => FileName.FromString(s);

    private static async Task<bool> Eventually(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++) await Task.Delay(10);
        return condition();
    }

    private sealed class RecordingNotifier : IFuseNotifier
    {
        public ConcurrentQueue<ulong> Inodes { get; } = new();

        public ConcurrentQueue<(ulong Parent, string Name)> Entries { get; } = new();

        public int InvalidateInode(ulong ino, long offset, long length)
        {
            Inodes.Enqueue(ino);
            return 0;
        }

        public int InvalidateEntry(ulong parent, ReadOnlySpan<byte> name)
        {
            Entries.Enqueue((parent, System.Text.Encoding.UTF8.GetString(name)));
            return 0;
        }

        public int Delete(ulong parent, ulong child, ReadOnlySpan<byte> name)
        {
            Entries.Enqueue((parent, System.Text.Encoding.UTF8.GetString(name)));
            return 0;
        }
    }
}
