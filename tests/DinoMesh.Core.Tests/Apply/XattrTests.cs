using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using Google.Protobuf;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

public class XattrTests
{
    private const ulong Root = FileSystemState.RootIno;
    private static readonly FileName UserA = FileName.FromString("user.a");

    private static (FileSystemState, ulong) NewFile() => (StateAssert.Fresh().Ok(File(Root, "f", time: 1), out ulong f), f);

    [Fact]
    public void Set_stores_the_value_and_a_second_set_replaces_it()
    {
        var (s, f) = NewFile();
        s = s.Ok(SetXattr(f, "user.a", [1, 2], time: 40));
        Assert.Equal([1, 2], s.Get(f).Xattrs[UserA]);
        Assert.Equal(40L, s.Get(f).CTime);
        s = s.Ok(SetXattr(f, "user.a", [3]));
        Assert.Equal([3], s.Get(f).Xattrs[UserA]);
        Assert.Single(s.Get(f).Xattrs);
    }

    [Fact]
    public void Empty_value_is_a_value()
    {
        var (s, f) = NewFile();
        s = s.Ok(SetXattr(f, "user.a", []));
        Assert.Empty(s.Get(f).Xattrs[UserA]);
    }

    [Fact]
    public void Create_flag_on_an_existing_name_is_EEXIST()
    {
        var (s, f) = NewFile();
        s = s.Ok(SetXattr(f, "user.a", [1], FileSystemState.XattrCreate));
        s.Fails(SetXattr(f, "user.a", [2], FileSystemState.XattrCreate), FsError.Exists);
    }

    [Fact]
    public void Replace_flag_on_a_missing_name_is_ENODATA()
    {
        var (s, f) = NewFile();
        s.Fails(SetXattr(f, "user.a", [1], FileSystemState.XattrReplace), FsError.NoData);
        s = s.Ok(SetXattr(f, "user.a", [1])).Ok(SetXattr(f, "user.a", [2], FileSystemState.XattrReplace));
        Assert.Equal([2], s.Get(f).Xattrs[UserA]);
    }

    [Fact]
    public void Remove_drops_the_name_and_a_missing_name_is_ENODATA()
    {
        var (s, f) = NewFile();
        s.Fails(RemoveXattr(f, "user.a"), FsError.NoData);
        s = s.Ok(SetXattr(f, "user.a", [1])).Ok(RemoveXattr(f, "user.a", time: 66));
        Assert.Empty(s.Get(f).Xattrs);
        Assert.Equal(66L, s.Get(f).CTime);
        s.Fails(RemoveXattr(f, "user.a"), FsError.NoData);
    }

    [Fact]
    public void Name_of_255_bytes_works_and_256_is_ERANGE()
    {
        var (s, f) = NewFile();
        s.Ok(SetXattr(f, "user." + new string('n', 250), [1]));
        s.Fails(SetXattr(f, "user." + new string('n', 251), [1]), FsError.Range);
    }

    [Fact]
    public void Empty_name_is_refused()
    {
        var (s, f) = NewFile();
        var result = s.Apply(SetXattr(f, ByteString.Empty, [1]));
        Assert.False(result.Ok);
        Assert.Same(s, result.State);
    }

    [Fact]
    public void Value_of_64_KiB_works_and_one_more_byte_is_E2BIG()
    {
        var (s, f) = NewFile();
        s.Ok(SetXattr(f, "user.a", new byte[64 * 1024]));
        s.Fails(SetXattr(f, "user.a", new byte[(64 * 1024) + 1]), FsError.ArgumentTooLong);
    }

    [Fact]
    public void Setting_an_access_ACL_with_a_mode_updates_the_permission_bits_only()
    {
        var (s, f) = NewFile();
        var m = SetXattr(f, "system.posix_acl_access", [2, 0, 0, 0]);
        m.SetXattr.Mode = FileMode.Directory | 0x1F8;                   // 0770; type bits ignored
        s = s.Ok(m);
        Assert.Equal(FileMode.Regular | 0x1F8u, s.Get(f).Mode);
        Assert.True(s.Get(f).Xattrs.ContainsKey(FileName.FromString("system.posix_acl_access")));
    }

    [Fact]
    public void Xattrs_work_on_directories_and_symlinks()
    {
        var s = StateAssert.Fresh().Ok(Symlink(Root, "l", "x"), out ulong l);
        s = s.Ok(SetXattr(Root, "user.d", [1])).Ok(SetXattr(l, "trusted.l", [2]));
        Assert.Single(s.Get(Root).Xattrs);
        Assert.Single(s.Get(l).Xattrs);
    }

    [Fact]
    public void Gone_inode_is_ESTALE()
    {
        var s = StateAssert.Fresh();
        s.Fails(SetXattr(4040, "user.a", [1]), FsError.Stale);
        s.Fails(RemoveXattr(4040, "user.a"), FsError.Stale);
    }
}
