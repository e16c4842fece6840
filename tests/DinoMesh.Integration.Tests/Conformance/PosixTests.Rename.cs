using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

public abstract partial class PosixTests
{
    [Fact]
    public void Rename_replaces_an_existing_file()
    {
        Write(P("a"), "new");
        Write(P("b"), "old");
        var inodeA = Posix.Stat(P("a")).Inode;
        AssertOk(Posix.Rename(P("a"), P("b")), "rename");
        Assert.Equal(Errno.ENOENT, Posix.Stat(P("a"), out _));
        Assert.Equal("new", Read(P("b")));
        Assert.Equal(inodeA, Posix.Stat(P("b")).Inode);
        Assert.Equal(["b"], Directory.EnumerateFileSystemEntries(Dir).Select(Path.GetFileName));
    }

    [Fact]
    public void Rename_replaces_an_empty_directory()
    {
        AssertOk(Posix.Mkdir(P("a"), Oct(755)), "mkdir");
        Touch(P("a", "inside"));
        AssertOk(Posix.Mkdir(P("b"), Oct(755)), "mkdir");
        AssertOk(Posix.Rename(P("a"), P("b")), "rename");
        Assert.False(Directory.Exists(P("a")));
        Assert.True(File.Exists(P("b", "inside")));
    }

    [Fact]
    public void Rename_between_file_and_directory_is_refused()
    {
        Touch(P("f"));
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        Assert.Equal(Errno.EISDIR, Posix.Rename(P("f"), P("d")));
        Assert.Equal(Errno.ENOTDIR, Posix.Rename(P("d"), P("f")));
    }

    [Fact]
    public void Rename_moves_across_directories_and_updates_both_parents()
    {
        AssertOk(Posix.Mkdir(P("from"), Oct(755)), "mkdir");
        AssertOk(Posix.Mkdir(P("to"), Oct(755)), "mkdir");
        AssertOk(Posix.Mkdir(P("from", "sub"), Oct(755)), "mkdir");
        Write(P("from", "sub", "f"), "payload");
        var inode = Posix.Stat(P("from", "sub")).Inode;

        AssertOk(Posix.Rename(P("from", "sub"), P("to", "moved")), "rename");
        Assert.Equal(inode, Posix.Stat(P("to", "moved")).Inode);
        Assert.Equal("payload", Read(P("to", "moved", "f")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(P("from")));
        Assert.Equal(2u, Posix.Stat(P("from")).Nlink);
        Assert.Equal(3u, Posix.Stat(P("to")).Nlink);
    }

    [Fact]
    public void Rename_noreplace_refuses_an_existing_target_with_EEXIST()
    {
        Needs(Feature.RenameFlags);
        Write(P("a"), "a");
        Write(P("b"), "b");
        Assert.Equal(Errno.EEXIST, Posix.Rename2(P("a"), P("b"), Posix.RENAME_NOREPLACE));
        Assert.Equal("a", Read(P("a")));
        Assert.Equal("b", Read(P("b")));
        AssertOk(Posix.Rename2(P("a"), P("c"), Posix.RENAME_NOREPLACE), "rename noreplace to a free name");
        Assert.Equal("a", Read(P("c")));
        Assert.False(File.Exists(P("a")));
    }

    [Fact]
    public void Rename_exchange_swaps_two_files()
    {
        Needs(Feature.RenameFlags);
        Write(P("a"), "A");
        Write(P("b"), "B");
        var (ia, ib) = (Posix.Stat(P("a")).Inode, Posix.Stat(P("b")).Inode);
        AssertOk(Posix.Rename2(P("a"), P("b"), Posix.RENAME_EXCHANGE), "rename exchange");
        Assert.Equal("B", Read(P("a")));
        Assert.Equal("A", Read(P("b")));
        Assert.Equal((ib, ia), (Posix.Stat(P("a")).Inode, Posix.Stat(P("b")).Inode));
        Assert.Equal(Errno.ENOENT, Posix.Rename2(P("a"), P("missing"), Posix.RENAME_EXCHANGE));
    }

    [Fact]
    public void Rename_exchange_swaps_a_file_and_a_directory_across_parents()
    {
        Needs(Feature.RenameFlags);
        AssertOk(Posix.Mkdir(P("p"), Oct(755)), "mkdir");
        Write(P("f"), "file");
        AssertOk(Posix.Mkdir(P("p", "d"), Oct(755)), "mkdir");
        Touch(P("p", "d", "inside"));
        AssertOk(Posix.Rename2(P("f"), P("p", "d"), Posix.RENAME_EXCHANGE), "rename exchange");
        Assert.True(Posix.Stat(P("f")).IsDirectory);
        Assert.True(File.Exists(P("f", "inside")));
        Assert.Equal("file", Read(P("p", "d")));
        // The directory moved up a level: both parents' link counts follow.
        Assert.Equal(2u, Posix.Stat(P("p")).Nlink);
        Assert.Equal(4u, Posix.Stat(Dir).Nlink);
    }

    [Fact]
    public void Rename_onto_itself_or_a_hard_link_of_itself_does_nothing()
    {
        Write(P("a"), "same");
        AssertOk(Posix.Rename(P("a"), P("a")), "rename onto itself");
        Assert.Equal("same", Read(P("a")));

        AssertOk(Posix.Link(P("a"), P("b")), "link");
        // POSIX: both names refer to the same file, so rename succeeds and changes nothing.
        AssertOk(Posix.Rename(P("a"), P("b")), "rename onto own hard link");
        Assert.True(File.Exists(P("a")));
        Assert.True(File.Exists(P("b")));
        Assert.Equal(2u, Posix.Stat(P("a")).Nlink);
    }

    [Fact]
    public void Rename_of_a_directory_into_its_own_subtree_is_EINVAL()
    {
        AssertOk(Posix.Mkdir(P("a"), Oct(755)), "mkdir");
        AssertOk(Posix.Mkdir(P("a", "b"), Oct(755)), "mkdir");
        AssertOk(Posix.Mkdir(P("a", "b", "c"), Oct(755)), "mkdir");
        Assert.Equal(Errno.EINVAL, Posix.Rename(P("a"), P("a", "x")));
        Assert.Equal(Errno.EINVAL, Posix.Rename(P("a"), P("a", "b", "c", "x")));
        Assert.Equal(Errno.EINVAL, Posix.Rename2(P("a"), P("a", "b", "c"), Posix.RENAME_EXCHANGE));
        Assert.True(Directory.Exists(P("a", "b", "c")));
    }
}
