using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

// Objects that live on while open after their last name is gone.
public abstract partial class PosixTests
{
    [Fact]
    public void Fstat_of_an_open_directory_replaced_by_rename_answers_nlink_0()
    {
        Needs(Feature.OpenUnlinkedDirectories);
        AssertOk(Posix.Mkdir(P("new"), Oct(755)), "mkdir new");
        AssertOk(Posix.Mkdir(P("old"), Oct(700)), "mkdir old");
        var newIno = Posix.Stat(P("new")).Inode;
        using var fd = Posix.Open(P("old"), Posix.O_RDONLY | Posix.O_DIRECTORY);
        Assert.Equal(Errno.OK, fd.Fstat(out var before));

        AssertOk(Posix.Rename(P("new"), P("old")), "rename over an empty directory");

        Assert.Equal(Errno.OK, fd.Fstat(out var after));
        Assert.True(after.IsDirectory, $"mode {Convert.ToString(after.Mode, 8)} is not a directory");
        Assert.Equal(0u, after.Nlink);
        Assert.Equal(before.Inode, after.Inode);
        Assert.Equal(Oct(700), after.Permissions);
        Assert.Equal(newIno, Posix.Stat(P("old")).Inode);
    }

    [Fact]
    public void Fstat_of_an_open_directory_removed_by_rmdir_answers_nlink_0()
    {
        Needs(Feature.OpenUnlinkedDirectories);
        AssertOk(Posix.Mkdir(P("d"), Oct(750)), "mkdir");
        AssertOk(Posix.Chown(P("d"), Nobody.Uid, Nobody.Gid), "chown");
        using var fd = Posix.Open(P("d"), Posix.O_RDONLY | Posix.O_DIRECTORY);
        Assert.Equal(Errno.OK, fd.Fstat(out var before));

        AssertOk(Posix.Rmdir(P("d")), "rmdir");

        Assert.Equal(Errno.OK, fd.Fstat(out var after));
        Assert.True(after.IsDirectory, $"mode {Convert.ToString(after.Mode, 8)} is not a directory");
        Assert.Equal(0u, after.Nlink);
        Assert.Equal((before.Inode, Nobody.Uid, Nobody.Gid, Oct(750)), (after.Inode, after.Uid, after.Gid, after.Permissions));
        Assert.Equal(Errno.ENOENT, Posix.Stat(P("d"), out _));
    }

    [Fact]
    public void Fstat_of_an_open_file_replaced_by_rename_answers_nlink_0()
    {
        Write(P("new"), "new");
        Write(P("old"), "old content");
        using var fd = Posix.Open(P("old"), Posix.O_RDONLY);
        AssertOk(Posix.Rename(P("new"), P("old")), "rename over a file");
        Assert.Equal(Errno.OK, fd.Fstat(out var after));
        Assert.Equal(0u, after.Nlink);
        Assert.Equal(11, after.Size);
        var buf = new byte[32];
        Assert.Equal(11, fd.PRead(buf, 0));
        Assert.Equal("new", Read(P("old")));
    }
}
