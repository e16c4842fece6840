using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

public class LinkTests
{
    private const ulong Root = FileSystemState.RootIno;

    [Fact]
    public void Link_adds_a_name_and_counts_it()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f", time: 1), out ulong f).Ok(Mkdir(Root, "d"), out ulong d);
        s = s.OkWith(Link(f, d, "g", time: 50), out var effect);
        Assert.Equal(f, effect.Ino);
        Assert.Equal(2u, s.Get(f).NLink);
        Assert.Equal(f, s.At("d/g").Ino);
        Assert.Equal(50L, s.Get(f).CTime);
        Assert.Equal((50L, 50L), (s.Get(d).MTime, s.Get(d).CTime));
        Assert.Equal(3u, s.Get(Root).NLink);                           // d's count: links to files are not subdirectories
        Assert.Equal(2u, s.Get(d).NLink);

        s = s.Ok(Link(f, Root, "h"));
        Assert.Equal(3u, s.Get(f).NLink);
    }

    [Fact]
    public void Link_to_a_symlink_or_special_file_works()
    {
        var s = StateAssert.Fresh().Ok(Symlink(Root, "l", "t"), out ulong l).Ok(Mknod(Root, "p", FileMode.Fifo | 0x1A4, 0), out ulong p);
        s = s.Ok(Link(l, Root, "l2")).Ok(Link(p, Root, "p2"));
        Assert.Equal((2u, 2u), (s.Get(l).NLink, s.Get(p).NLink));
    }

    [Fact]
    public void Link_to_a_directory_is_EPERM()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d);
        s.Fails(Link(d, Root, "e"), FsError.NotPermitted);
        s.Fails(Link(Root, Root, "e"), FsError.NotPermitted);
    }

    [Fact]
    public void Link_onto_an_existing_name_is_EEXIST()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(File(Root, "g"));
        s.Fails(Link(f, Root, "g"), FsError.Exists);
        s.Fails(Link(f, Root, "f"), FsError.Exists);
    }

    // Found by the disk model: Linux looks the new name up before it looks at the inode.
    [Fact]
    public void Link_onto_an_existing_name_is_EEXIST_even_for_a_directory_or_an_orphan()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d).Ok(File(Root, "o"), out ulong o).Ok(Unlink(Root, "o")).Ok(File(Root, "f"));
        s.Fails(Link(d, Root, "f"), FsError.Exists);
        s.Fails(Link(o, Root, "f"), FsError.Exists);
    }

    [Fact]
    public void Link_to_an_orphan_is_ENOENT()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Unlink(Root, "f"));
        s.Fails(Link(f, Root, "back"), FsError.NoEntry);
    }

    [Fact]
    public void Link_to_a_gone_inode_or_into_a_gone_directory_is_ESTALE()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Mkdir(Root, "d"), out ulong d).Ok(Rmdir(Root, "d"));
        s.Fails(Link(4242, Root, "x"), FsError.Stale);
        s.Fails(Link(f, d, "x"), FsError.Stale);
    }

    [Fact]
    public void Link_into_a_file_is_ENOTDIR_and_bad_names_are_refused()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        s.Fails(Link(f, f, "x"), FsError.NotADirectory);
        s.Fails(Link(f, Root, ".."), FsError.Invalid);
        s.Fails(Link(f, Root, "a/b"), FsError.Invalid);
        s.Fails(Link(f, Root, new string('n', 256)), FsError.NameTooLong);
    }

    [Fact]
    public void Removing_links_counts_down_to_an_orphan()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Link(f, Root, "g")).Ok(Link(f, Root, "h"));
        s = s.Ok(Unlink(Root, "g"));
        Assert.Equal(2u, s.Get(f).NLink);
        s = s.Ok(Unlink(Root, "f")).Ok(Unlink(Root, "h"));
        Assert.Equal(0u, s.Get(f).NLink);
    }
}
