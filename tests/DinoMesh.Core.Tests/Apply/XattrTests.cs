using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
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
        var result = s.Apply(SetXattr(f, Array.Empty<byte>(), [1]));
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

    private static Mutation Bounded(ulong ino, string name, byte[] value) =>
        At(DefaultTime, new SetXattr(ino, FileName.FromString(name), value, Bounded: true));

    [Fact]
    public void A_bounded_set_past_the_inodes_total_bytes_is_ENOSPC_and_changes_nothing()
    {
        var (s, f) = NewFile();
        // Three full values and a fourth short by the four names' bytes fill the 256 KiB exactly.
        for (var i = 0; i < 3; i++) s = s.Ok(Bounded(f, $"user.{i}", new byte[FileSystemState.MaxXattrValue]));
        var room = FileSystemState.MaxXattrBytes - 3 * FileSystemState.MaxXattrValue - 4 * "user.0".Length;
        s = s.Ok(Bounded(f, "user.3", new byte[room]));
        s.Fails(Bounded(f, "user.4", []), FsError.NoSpace);
        s.Fails(Bounded(f, "user.3", new byte[room + 1]), FsError.NoSpace);
        Assert.Equal(4, s.Get(f).Xattrs.Count);
        Assert.Equal(room, s.Get(f).Xattrs[FileName.FromString("user.3")].Length);
    }

    [Fact]
    public void A_bounded_replace_counts_the_old_value_out()
    {
        var (s, f) = NewFile();
        for (var i = 0; i < 3; i++) s = s.Ok(Bounded(f, $"user.{i}", new byte[FileSystemState.MaxXattrValue]));
        s = s.Ok(Bounded(f, "user.3", new byte[FileSystemState.MaxXattrValue - 1000]));
        s = s.Ok(Bounded(f, "user.0", new byte[FileSystemState.MaxXattrValue]));   // the same size again fits
        s = s.Ok(RemoveXattr(f, "user.0")).Ok(Bounded(f, "user.new", new byte[1000]));
        Assert.Equal(4, s.Get(f).Xattrs.Count);
    }

    [Fact]
    public void Bounded_names_must_fit_one_listxattr_and_the_next_name_is_ENOSPC()
    {
        var (s, f) = NewFile();
        // 255-byte names with empty values: 256 bytes each in the list, so 256 of them fill XATTR_LIST_MAX.
        var prefix = "user." + new string('n', 246);                     // 251 bytes + 4 digits = 255
        for (var i = 0; i < FileSystemState.MaxXattrNamesList / 256; i++) s = s.Ok(Bounded(f, prefix + i.ToString("D4"), []));
        s.Fails(Bounded(f, "user.x", []), FsError.NoSpace);
        Assert.Equal(256, s.Get(f).Xattrs.Count);
    }

    [Fact]
    public void An_entry_from_before_the_bound_applies_past_it_as_it_did_then()
    {
        var (s, f) = NewFile();
        for (var i = 0; i < 5; i++) s = s.Ok(SetXattr(f, $"user.{i}", new byte[FileSystemState.MaxXattrValue]));
        Assert.Equal(5, s.Get(f).Xattrs.Count);
        s.Fails(Bounded(f, "user.5", [1]), FsError.NoSpace);
        s.Ok(Bounded(f, "user.0", [1]));                                  // shrinking is always allowed back under
    }

    /// <summary>An ACL in the kernel's xattr encoding: version 2, then (tag, perm, id) entries.</summary>
    private static byte[] Acl(params (ushort Tag, ushort Perm, uint Id)[] entries)
    {
        var bytes = new byte[4 + 8 * entries.Length];
        bytes[0] = 2;
        for (var i = 0; i < entries.Length; i++)
        {
            var at = bytes.AsSpan(4 + 8 * i);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(at, entries[i].Tag);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(at[2..], entries[i].Perm);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(at[4..], entries[i].Id);
        }
        return bytes;
    }

    private const ushort UserObj = 0x01, User = 0x02, GroupObj = 0x04, Mask = 0x10, Other = 0x20;
    private static readonly FileName AccessAcl = FileName.FromString("system.posix_acl_access");

    [Fact]
    public void An_access_ACL_sets_the_permission_bits_it_implies_against_the_mode_as_it_is_then()
    {
        var (s, f) = NewFile();
        s = s.Ok(Chmod(f, FileMode.Sticky | 0x1FF));                    // the proposer may not have seen this chmod
        var acl = Acl((UserObj, 6, 0), (User, 7, 1000), (GroupObj, 4, 0), (Mask, 5, 0), (Other, 0, 0));
        s = s.Ok(SetXattr(f, "system.posix_acl_access", acl));
        Assert.Equal(FileMode.Regular | FileMode.Sticky | 0x1A8u, s.Get(f).Mode);   // rw- r-x(mask) ---, sticky kept
        Assert.Equal(acl, s.Get(f).Xattrs[AccessAcl]);
    }

    [Fact]
    public void An_access_ACL_that_says_no_more_than_the_mode_is_kept_as_the_mode_alone()
    {
        var (s, f) = NewFile();
        s = s.Ok(SetXattr(f, "system.posix_acl_access", Acl((UserObj, 6, 0), (User, 7, 1000), (GroupObj, 4, 0), (Mask, 7, 0), (Other, 0, 0))));
        Assert.True(s.Get(f).Xattrs.ContainsKey(AccessAcl));
        s = s.Ok(SetXattr(f, "system.posix_acl_access", Acl((UserObj, 7, 0), (GroupObj, 5, 0), (Other, 1, 0))));
        Assert.Equal(FileMode.Regular | 0x1E9u, s.Get(f).Mode);
        Assert.False(s.Get(f).Xattrs.ContainsKey(AccessAcl));
    }

    [Fact]
    public void A_malformed_access_ACL_is_EINVAL()
    {
        var (s, f) = NewFile();
        s.Fails(SetXattr(f, "system.posix_acl_access", [2, 0, 0, 0]), FsError.Invalid);
        s.Fails(SetXattr(f, "system.posix_acl_access", Acl((UserObj, 7, 0), (User, 7, 5), (GroupObj, 5, 0), (Other, 1, 0))), FsError.Invalid);  // named entry without a mask
    }

    // posix_acl_update_mode: an owner who is neither privileged nor in the file's group loses setgid.
    [Theory]
    [InlineData(1000u, 1000u, null, false)]      // owner outside group 50: setgid cleared
    [InlineData(1000u, 50u, null, true)]         // primary group is the file's
    [InlineData(1000u, 1000u, 50u, true)]        // a supplementary group is the file's
    [InlineData(0u, 0u, null, true)]             // root keeps it (CAP_FSETID)
    public void Setting_an_access_ACL_clears_setgid_unless_the_caller_is_in_the_group_or_privileged(uint uid, uint gid, uint? supplementary, bool kept)
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f", uid: 1000, gid: 50), out ulong f).Ok(Chmod(f, FileMode.SetGid | 0x1ED));
        var m = SetXattr(f, "system.posix_acl_access", Acl((UserObj, 7, 0), (User, 5, 7), (GroupObj, 5, 0), (Mask, 5, 0), (Other, 5, 0)))
            with { CallerUid = uid, CallerGid = gid, CallerGroups = supplementary is { } g ? [g] : null };
        s = s.Ok(m);
        Assert.Equal(kept, (s.Get(f).Mode & FileMode.SetGid) != 0);
    }

    [Fact]
    public void A_new_file_inherits_the_directory_default_ACL_as_it_is_when_the_create_applies()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d);
        var defaults = Acl((UserObj, 7, 0), (User, 6, 1000), (GroupObj, 5, 0), (Mask, 7, 0), (Other, 0, 0));
        // The default ACL lands after the proposer looked at the directory: the create still inherits it.
        s = s.Ok(SetXattr(d, "system.posix_acl_default", defaults));
        s = s.Ok(Create(d, Bytes("f"), FileMode.Regular | 0x1B6, umask: 0x12), out ulong f);   // the umask is ignored with a default ACL
        Assert.Equal(FileMode.Regular | 0x1B0u, s.Get(f).Mode);          // rw- rw-(mask) ---
        Assert.True(s.Get(f).Xattrs.ContainsKey(AccessAcl));
        s = s.Ok(Mkdir(d, "sub"), out ulong sub);
        Assert.Equal(defaults, s.Get(sub).Xattrs[FileName.FromString("system.posix_acl_default")]);
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
