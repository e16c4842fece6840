using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

public abstract partial class PosixTests
{
    [Fact]
    public void Hard_link_shares_the_inode_and_counts_nlink()
    {
        Needs(Feature.HardLinksShareOneInode);
        Write(P("a"), "shared");
        Assert.Equal(1u, Posix.Stat(P("a")).Nlink);

        AssertOk(Posix.Link(P("a"), P("b")), "link");
        var a = Posix.Stat(P("a"));
        var b = Posix.Stat(P("b"));
        Assert.Equal(a.Inode, b.Inode);
        Assert.Equal(2u, a.Nlink);
        Assert.Equal(2u, b.Nlink);

        // A write through one name is seen through the other.
        File.AppendAllText(P("b"), "+more");
        Assert.Equal("shared+more", Read(P("a")));

        AssertOk(Posix.Unlink(P("a")), "unlink");
        Assert.Equal(1u, Posix.Stat(P("b")).Nlink);
        Assert.Equal("shared+more", Read(P("b")));
    }

    [Fact]
    public void Directory_nlink_is_two_plus_its_subdirectories()
    {
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        Assert.Equal(2u, Posix.Stat(P("d")).Nlink);
        AssertOk(Posix.Mkdir(P("d", "a"), Oct(755)), "mkdir");
        AssertOk(Posix.Mkdir(P("d", "b"), Oct(755)), "mkdir");
        Touch(P("d", "file"));
        Assert.Equal(4u, Posix.Stat(P("d")).Nlink);
        AssertOk(Posix.Rmdir(P("d", "a")), "rmdir");
        Assert.Equal(3u, Posix.Stat(P("d")).Nlink);
        AssertOk(Posix.Rename(P("d", "b"), P("b")), "rename a subdirectory out");
        Assert.Equal(2u, Posix.Stat(P("d")).Nlink);
    }

    [Fact]
    public void Hard_link_to_a_directory_is_EPERM()
    {
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        Assert.Equal(Errno.EPERM, Posix.Link(P("d"), P("d2")));
    }

    [Fact]
    public void Symlink_readlink_and_lstat()
    {
        Write(P("target"), "through the link");
        AssertOk(Posix.Symlink("target", P("link")), "symlink");
        AssertOk(Posix.Symlink("../" + Path.GetFileName(Dir) + "/target", P("relative")), "symlink");

        Assert.Equal(Errno.OK, Posix.Readlink(P("link"), out var text));
        Assert.Equal("target", text);
        var l = Posix.Lstat(P("link"));
        Assert.True(l.IsSymlink);
        Assert.Equal("target".Length, l.Size);
        var s = Posix.Stat(P("link"));
        Assert.True(s.IsRegular);
        Assert.Equal(Posix.Stat(P("target")).Inode, s.Inode);
        Assert.Equal("through the link", Read(P("link")));
        Assert.Equal("through the link", Read(P("relative")));
        Assert.Equal(Errno.EINVAL, Posix.Readlink(P("target"), out _));

        // Removing the link leaves the target.
        AssertOk(Posix.Unlink(P("link")), "unlink");
        Assert.True(File.Exists(P("target")));
    }

    [Fact]
    public void Dangling_symlink_lstats_but_does_not_stat()
    {
        AssertOk(Posix.Symlink("nowhere", P("dangling")), "symlink");
        Assert.Equal(Errno.OK, Posix.Lstat(P("dangling"), out var l));
        Assert.True(l.IsSymlink);
        Assert.Equal(Errno.ENOENT, Posix.Stat(P("dangling"), out _));
        Assert.Equal(Errno.OK, Posix.Readlink(P("dangling"), out var text));
        Assert.Equal("nowhere", text);
        Assert.Contains("dangling", Directory.EnumerateFileSystemEntries(Dir).Select(Path.GetFileName));

        // O_CREAT without O_EXCL follows the link and creates its target.
        using (var fd = Posix.Open(P("dangling"), Posix.O_CREAT | Posix.O_WRONLY, Oct(644)))
        {
            fd.Write("made");
        }
        Assert.Equal("made", Read(P("nowhere")));
        Assert.True(Posix.Lstat(P("dangling")).IsSymlink);
    }
}
