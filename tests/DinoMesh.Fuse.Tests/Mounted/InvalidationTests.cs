using System.Text;
using DinoMesh.Fuse.Tests.Support;

namespace DinoMesh.Fuse.Tests.Mounted;

/// <summary>
/// The test filesystem hands out hour-long entry/attribute timeouts and FOPEN_KEEP_CACHE, so the kernel would keep
/// serving stale data: each test first shows the stale view, then that the notification alone makes the change visible.
/// </summary>
public sealed class InvalidationTests
{
    private static MemoryFileSystem CachingFileSystem() => new()
    {
        EntryTimeout = TimeSpan.FromHours(1),
        AttrTimeout = TimeSpan.FromHours(1),
        OpenFlags = OpenReplyFlags.KeepCache,
    };

    [Fact]
    public async Task InvalidateInode_MakesNewContentAndSizeVisible()
    {
        var fs = CachingFileSystem();
        await using var mount = TestMount.Start(fs, TestMount.DefaultOptions with { WritebackCache = false });
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(mount["f"], "old content", ct);
        Assert.Equal("old content", await File.ReadAllTextAsync(mount["f"], ct));
        Assert.Equal(11, new FileInfo(mount["f"]).Length);   // the kernel now caches size and content
        ulong ino = fs.Resolve("f");

        fs.ReplaceContent(ino, Encoding.UTF8.GetBytes("brand new content"));
        long staleSize = new FileInfo(mount["f"]).Length;
        string staleText = await File.ReadAllTextAsync(mount["f"], ct);
        int result = mount.Mount.Notifier.InvalidateInode(ino, 0, -1);
        long freshSize = new FileInfo(mount["f"]).Length;
        string freshText = await File.ReadAllTextAsync(mount["f"], ct);

        Assert.Equal(11, staleSize);
        Assert.Equal("old content", staleText);
        Assert.Equal(0, result);
        Assert.Equal(17, freshSize);
        Assert.Equal("brand new content", freshText);
    }

    /// <summary>
    /// Pins a kernel rule the filesystem must know: with FUSE_WRITEBACK_CACHE the kernel owns the size of a regular
    /// file it has in its inode cache and ignores the size in GETATTR replies, so INVAL_INODE refreshes pages but
    /// not the size. Dropping the name as well (INVAL_ENTRY) lets an unused inode go, and the next LOOKUP brings the
    /// new size. An open file keeps the kernel's size until it is closed and evicted.
    /// </summary>
    [Fact]
    public async Task WithWritebackCache_SizeNeedsEntryInvalidationToo()
    {
        var fs = CachingFileSystem();
        await using var mount = TestMount.Start(fs, TestMount.DefaultOptions with { WritebackCache = true });
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(mount["f"], "old content", ct);
        Assert.Equal(11, new FileInfo(mount["f"]).Length);
        ulong ino = fs.Resolve("f");

        fs.ReplaceContent(ino, Encoding.UTF8.GetBytes("brand new content"));
        int inodeResult = mount.Mount.Notifier.InvalidateInode(ino, 0, -1);
        long sizeAfterInodeOnly = new FileInfo(mount["f"]).Length;
        string textAfterInodeOnly = await File.ReadAllTextAsync(mount["f"], ct);
        int entryResult = mount.Mount.Notifier.InvalidateEntry(MemoryFileSystem.RootIno, "f"u8);
        long sizeAfterEntry = new FileInfo(mount["f"]).Length;
        string textAfterEntry = await File.ReadAllTextAsync(mount["f"], ct);

        Assert.Equal(0, inodeResult);
        Assert.Equal(11, sizeAfterInodeOnly);
        Assert.Equal("brand new c", textAfterInodeOnly);   // fresh pages, but cut at the kernel's size
        Assert.Equal(0, entryResult);
        Assert.Equal(17, sizeAfterEntry);
        Assert.Equal("brand new content", textAfterEntry);
    }

    [Fact]
    public async Task InvalidateEntry_MakesARemovedNameDisappear()
    {
        var fs = CachingFileSystem();
        await using var mount = TestMount.Start(fs);
        await File.WriteAllTextAsync(mount["gone"], "x", TestContext.Current.CancellationToken);
        Assert.True(File.Exists(mount["gone"]));

        fs.RemoveEntry(MemoryFileSystem.RootIno, "gone");
        bool staleExists = File.Exists(mount["gone"]);
        int result = mount.Mount.Notifier.InvalidateEntry(MemoryFileSystem.RootIno, "gone"u8);
        bool freshExists = File.Exists(mount["gone"]);

        Assert.True(staleExists);
        Assert.Equal(0, result);
        Assert.False(freshExists);
    }

    [Fact]
    public async Task Delete_MakesARemovedNameDisappear()
    {
        var fs = CachingFileSystem();
        await using var mount = TestMount.Start(fs);
        Directory.CreateDirectory(mount["dir"]);
        await File.WriteAllTextAsync(mount["dir/victim"], "x", TestContext.Current.CancellationToken);
        Assert.True(File.Exists(mount["dir/victim"]));
        ulong dir = fs.Resolve("dir"), victim = fs.Resolve("dir/victim");

        fs.RemoveEntry(dir, "victim");
        bool staleExists = File.Exists(mount["dir/victim"]);
        int result = mount.Mount.Notifier.Delete(dir, victim, "victim"u8);
        bool freshExists = File.Exists(mount["dir/victim"]);

        Assert.True(staleExists);
        Assert.Equal(0, result);
        Assert.False(freshExists);
    }

    [Fact]
    public async Task Notifications_AboutUnknownInodes_AnswerENOENT()
    {
        var fs = CachingFileSystem();
        await using var mount = TestMount.Start(fs);

        Assert.Equal(Errno.ENOENT, mount.Mount.Notifier.InvalidateInode(987654, 0, -1));
        Assert.Equal(Errno.ENOENT, mount.Mount.Notifier.InvalidateEntry(987654, "nothing"u8));
    }
}
