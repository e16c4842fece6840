using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

public class SetGidDirectoryTests
{
    private const ulong Root = FileSystemState.RootIno;

    private static (FileSystemState State, ulong Shared) SharedDirectory()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "shared", permissions: FileMode.SetGid | 0x1FD, uid: 0, gid: 500), out ulong shared);
        Assert.Equal(FileMode.Directory | FileMode.SetGid | 0x1FDu, s.Get(shared).Mode);
        return (s, shared);
    }

    [Fact]
    public void File_in_setgid_directory_takes_the_directory_group_but_not_the_setgid_bit()
    {
        var (s, shared) = SharedDirectory();
        s = s.Ok(File(shared, "f", uid: 1000, gid: 1000), out ulong f);
        Assert.Equal(500u, s.Get(f).Gid);
        Assert.Equal(1000u, s.Get(f).Uid);
        Assert.Equal(Mutations.RegularFile, s.Get(f).Mode);
    }

    [Fact]
    public void Subdirectory_of_setgid_directory_takes_the_group_and_the_setgid_bit()
    {
        var (s, shared) = SharedDirectory();
        s = s.Ok(Mkdir(shared, "sub", uid: 1000, gid: 1000), out ulong sub);
        Assert.Equal(500u, s.Get(sub).Gid);
        Assert.Equal(FileMode.Directory | FileMode.SetGid | 0x1EDu, s.Get(sub).Mode);

        // ...and hands both on again.
        s = s.Ok(Mkdir(sub, "deeper", gid: 7), out ulong deeper);
        Assert.Equal(500u, s.Get(deeper).Gid);
        Assert.NotEqual(0u, s.Get(deeper).Mode & FileMode.SetGid);
    }

    [Fact]
    public void Symlink_and_special_file_in_setgid_directory_take_the_group()
    {
        var (s, shared) = SharedDirectory();
        s = s.Ok(Symlink(shared, "l", "x"), out ulong l).Ok(Mknod(shared, "p", FileMode.Fifo | 0x1A4, 0), out ulong p);
        Assert.Equal(500u, s.Get(l).Gid);
        Assert.Equal(500u, s.Get(p).Gid);
    }

    [Fact]
    public void Ordinary_directory_keeps_the_callers_group()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "plain", gid: 500), out ulong plain)
            .Ok(Mkdir(plain, "sub", gid: 1000), out ulong sub)
            .Ok(File(plain, "f", gid: 1000), out ulong f);
        Assert.Equal(1000u, s.Get(sub).Gid);
        Assert.Equal(1000u, s.Get(f).Gid);
        Assert.Equal(0u, s.Get(sub).Mode & FileMode.SetGid);
    }
}
