using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// A directory another node emptied and removed, reached here through a descriptor (or a name the kernel still has
/// cached): lookup, unlink and rmdir in it answer ENOENT and its listing is empty, as Linux answers in a removed
/// directory, not ESTALE; open here, it keeps its attributes with nlink 0 (the kernel asks for them to check the
/// caller's permission before each of those). Two `rm -rf` of one tree on two nodes at once each walk directories the other removes, and
/// rm forgives only ENOENT: it printed "Stale file handle" and failed (2026-12-07).
/// </summary>
public sealed class RemovedDirectoryTests
{
    private const int ENOENT = 2, ESTALE = 116;
    private static readonly FuseContext Root = Caller(0, 0);

    [Fact]
    public async Task Lookup_unlink_rmdir_in_a_directory_removed_elsewhere_answer_ENOENT_and_its_listing_is_empty()
    {
        using var volume = new TestVolume();
        var made = await volume.Fs.MkDirAsync(Root, FileSystemState.RootIno, Name("d"), 0x1ED, 0);
        Assert.True(made.Ok, $"mkdir: errno {made.Errno}");
        var dir = made.Value.NodeId;
        var opened = await volume.Fs.OpenDirAsync(Root, dir, 0);
        Assert.True(opened.Ok, $"opendir: errno {opened.Errno}");

        // The other node's rm -rf got there first: the directory is gone from the tree.
        volume.Meta.ApplyRemote(new RemoveEntry(FileSystemState.RootIno, FileName.FromString("d"), true));
        Assert.Null(volume.Meta.Current.Find(dir));

        var attributes = await volume.GetAttrAsync(dir);
        Assert.True(attributes.Ok, $"getattr of the removed directory open here: errno {attributes.Errno}");
        Assert.Equal(0u, attributes.Value.Attributes.NLink);
        Assert.Equal(ENOENT, (await volume.Fs.LookupAsync(Root, dir, Name("f"))).Errno);
        Assert.Equal(ENOENT, await volume.Fs.UnlinkAsync(Root, dir, Name("f")));
        Assert.Equal(ENOENT, await volume.Fs.RmDirAsync(Root, dir, Name("sub")));
        var listing = new Entries();
        Assert.Equal(0, await volume.Fs.ReadDirAsync(Root, dir, opened.Value.FileHandle, 0, listing));
        Assert.Empty(listing.Names);
    }

    [Fact]
    public async Task A_directory_open_here_keeps_its_attributes_before_the_listener_of_its_removal_elsewhere_has_run()
    {
        // The replica publishes a change's state before its listeners run: a GETATTR in between (fstat of tar's
        // descriptor of a directory another node's rm -rf just removed) found neither the directory nor its kept copy.
        using var volume = new TestVolume();
        var made = await volume.Fs.MkDirAsync(Root, FileSystemState.RootIno, Name("d"), 0x1ED, 0);
        Assert.True(made.Ok, $"mkdir: errno {made.Errno}");
        var dir = made.Value.NodeId;
        var opened = await volume.Fs.OpenDirAsync(Root, dir, 0);
        Assert.True(opened.Ok, $"opendir: errno {opened.Errno}");

        var removal = volume.Meta.PublishRemote(new RemoveEntry(FileSystemState.RootIno, FileName.FromString("d"), true));
        Assert.Null(volume.Meta.Current.Find(dir));
        var published = await volume.GetAttrAsync(dir);
        Assert.True(published.Ok, $"getattr between the removal's publication and its listener: errno {published.Errno}");
        Assert.Equal(0u, published.Value.Attributes.NLink);
        Assert.Equal(0x41EDu, published.Value.Attributes.Mode);

        volume.Meta.Announce(removal);
        var announced = await volume.GetAttrAsync(dir);
        Assert.True(announced.Ok, $"getattr after the listener: errno {announced.Errno}");
        Assert.Equal(0u, announced.Value.Attributes.NLink);

        // Once closed, it is gone here too.
        Assert.Equal(0, await volume.Fs.ReleaseDirAsync(Root, dir, opened.Value.FileHandle));
        Assert.Equal(ESTALE, (await volume.GetAttrAsync(dir)).Errno);
    }

    [Fact]
    public async Task A_directory_open_twice_keeps_its_attributes_until_its_last_handle_closes()
    {
        using var volume = new TestVolume();
        var made = await volume.Fs.MkDirAsync(Root, FileSystemState.RootIno, Name("d"), 0x1ED, 0);
        var dir = made.Value.NodeId;
        var first = await volume.Fs.OpenDirAsync(Root, dir, 0);
        var second = await volume.Fs.OpenDirAsync(Root, dir, 0);
        Assert.True(first.Ok && second.Ok);
        // Removed here, by this node: the attributes the removal left (nlink 0).
        Assert.Equal(0, await volume.Fs.RmDirAsync(Root, FileSystemState.RootIno, Name("d")));

        Assert.Equal(0, await volume.Fs.ReleaseDirAsync(Root, dir, first.Value.FileHandle));
        var stillOpen = await volume.GetAttrAsync(dir);
        Assert.True(stillOpen.Ok, $"getattr with one handle left: errno {stillOpen.Errno}");
        Assert.Equal(0u, stillOpen.Value.Attributes.NLink);
        Assert.Equal(0, await volume.Fs.ReleaseDirAsync(Root, dir, second.Value.FileHandle));
        Assert.Equal(ESTALE, (await volume.GetAttrAsync(dir)).Errno);
    }

    private sealed class Entries : DirectoryWriter
    {
        public List<string> Names { get; } = [];

        public override bool IsPlus => false;

        public override bool TryAdd(in DirectoryEntry dirent, in EntryReply? entry)
        {
            Names.Add(System.Text.Encoding.UTF8.GetString(dirent.Name.Span));
            return true;
        }
    }
}
