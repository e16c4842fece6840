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
    private const int ENOENT = 2;
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
