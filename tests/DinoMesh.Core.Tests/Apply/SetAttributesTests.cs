using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

public class SetAttributesTests
{
    private const ulong Root = FileSystemState.RootIno;

    private static (FileSystemState, ulong) FileWithData(byte[] data)
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f", time: 10), out ulong f).Ok(Write(f, 0, data, time: 10));
        return (s, f);
    }

    [Fact]
    public void Chmod_changes_permission_bits_and_keeps_the_type()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Mkdir(Root, "d"), out ulong d);
        s = s.Ok(Chmod(f, FileMode.Directory | FileMode.SetUid | 0x1C0, time: 5));   // type bits in the request are ignored
        Assert.Equal(FileMode.Regular | FileMode.SetUid | 0x1C0u, s.Get(f).Mode);
        Assert.Equal(5L, s.Get(f).CTime);
        s = s.Ok(Chmod(d, FileMode.Sticky | 0x1FF));
        Assert.Equal(FileMode.Directory | FileMode.Sticky | 0x1FFu, s.Get(d).Mode);
    }

    [Fact]
    public void KillCapability_removes_security_capability_and_nothing_else_and_is_a_no_op_without_it()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(File(Root, "plain"), out ulong plain)
            .Ok(Chmod(f, FileMode.SetUid | 0x1ED))
            .Ok(SetXattr(f, "security.capability", [1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
            .Ok(SetXattr(f, "user.kept", [7]));

        // A write by root: capabilities go, set-id bits stay (no KillSuidGid).
        s = s.Ok(SetAttributes(new SetAttributes(f, KillCapability: true), time: 30));

        Assert.False(s.Get(f).HasCapability);
        Assert.True(s.Get(f).Xattrs.ContainsKey(FileName.FromString("user.kept")));
        Assert.Equal(FileMode.Regular | FileMode.SetUid | 0x1EDu, s.Get(f).Mode);
        Assert.Equal(30L, s.Get(f).CTime);
        // Nothing to remove is not an error: the intent meets a file that has none.
        s = s.Ok(SetAttributes(new SetAttributes(plain, KillSuidGid: true, KillCapability: true)));
        Assert.Empty(s.Get(plain).Xattrs);
    }

    [Fact]
    public void Chown_sets_uid_and_gid_independently()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f", uid: 1, gid: 2), out ulong f);
        s = s.Ok(Chown(f, 1000, 100));
        Assert.Equal((1000u, 100u), (s.Get(f).Uid, s.Get(f).Gid));
        s = s.Ok(SetAttributes(new SetAttributes(f, Gid: 7)));
        Assert.Equal((1000u, 7u), (s.Get(f).Uid, s.Get(f).Gid));
    }

    [Fact]
    public void Truncate_down_drops_the_data_past_the_new_size()
    {
        var (s, f) = FileWithData([1, 2, 3, 4, 5, 6, 7, 8]);
        s = s.OkWith(Truncate(f, 3, time: 20), out var effect);
        Assert.Equal(3L, s.Get(f).Size);
        Assert.Equal(3L, s.Get(f).Extents.AllocatedBytes);
        Assert.Equal(3L, Assert.Single(s.Get(f).Extents).Length);
        Assert.Equal((20L, 20L), (s.Get(f).MTime, s.Get(f).CTime));
        Assert.Equal([f], effect.ContentChanged);
    }

    [Fact]
    public void Truncate_up_reads_as_a_hole_and_does_not_bring_back_old_bytes()
    {
        var (s, f) = FileWithData([1, 2, 3, 4, 5, 6, 7, 8]);
        s = s.Ok(Truncate(f, 2)).Ok(Truncate(f, 100));
        var inode = s.Get(f);
        Assert.Equal(100L, inode.Size);
        Assert.Equal(2L, inode.Extents.AllocatedBytes);
        Assert.Empty(inode.Extents.Overlapping(2, 100));
        Assert.Equal(2L, inode.Extents.NextHole(0, inode.Size));
        Assert.Equal(-1L, inode.Extents.NextData(2));
    }

    [Fact]
    public void Truncate_to_zero_empties_the_file()
    {
        var (s, f) = FileWithData([9, 9, 9]);
        s = s.Ok(Truncate(f, 0));
        Assert.Equal(0L, s.Get(f).Size);
        Assert.Equal(0, s.Get(f).Extents.Count);
    }

    [Fact]
    public void Size_on_a_directory_is_EISDIR() =>
        StateAssert.Fresh().Fails(Truncate(Root, 0), FsError.IsADirectory);

    [Fact]
    public void Size_on_a_symlink_or_fifo_is_EINVAL()
    {
        var s = StateAssert.Fresh().Ok(Symlink(Root, "l", "target"), out ulong l).Ok(Mknod(Root, "p", FileMode.Fifo | 0x1A4, 0), out ulong p);
        s.Fails(Truncate(l, 0), FsError.Invalid);
        s.Fails(Truncate(p, 0), FsError.Invalid);
    }

    [Fact]
    public void Size_past_16_TiB_is_EFBIG_and_exactly_16_TiB_is_allowed()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        s.Fails(Truncate(f, (ulong)FileSystemState.MaxFileSize + 1), FsError.TooBig);
        s.Fails(Truncate(f, ulong.MaxValue), FsError.TooBig);
        Assert.Equal(FileSystemState.MaxFileSize, s.Ok(Truncate(f, (ulong)FileSystemState.MaxFileSize)).Get(f).Size);
    }

    [Fact]
    public void Missing_inode_is_ESTALE() =>
        StateAssert.Fresh().Fails(Chmod(555, 0x1A4), FsError.Stale);

    // Regression: a predecessor system stored whole seconds, so `touch -d` and `cp -p` lost the fraction.
    [Theory]
    [InlineData(1_700_000_000_987_654_321L)]
    [InlineData(1L)]
    [InlineData(-1_234_567_891L)]                                       // before 1970
    [InlineData(long.MaxValue)]
    public void Explicit_times_are_kept_to_the_nanosecond(long ns)
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        s = s.Ok(SetAttributes(new SetAttributes(f, ATimeNs: ns, MTimeNs: ns - 1, CTimeNs: ns - 2)));
        Assert.Equal((ns, ns - 1, ns - 2), (s.Get(f).ATime, s.Get(f).MTime, s.Get(f).CTime));

        var restored = StateSnapshotCodec.Decode(StateSnapshotCodec.Encode(s));
        Assert.Equal((ns, ns - 1, ns - 2), (restored.Get(f).ATime, restored.Get(f).MTime, restored.Get(f).CTime));
    }

    [Fact]
    public void Ctime_is_the_commit_time_unless_given_and_other_times_stay()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f", time: 3), out ulong f);
        s = s.Ok(SetAttributes(new SetAttributes(f, ATimeNs: 11), time: 50));
        Assert.Equal((11L, 3L, 50L), (s.Get(f).ATime, s.Get(f).MTime, s.Get(f).CTime));
    }

    [Fact]
    public void Truncate_with_an_explicit_mtime_keeps_that_mtime()
    {
        var (s, f) = FileWithData([1, 2, 3]);
        s = s.Ok(SetAttributes(new SetAttributes(f, Size: 1, MTimeNs: 7), time: 99));
        Assert.Equal((7L, 99L), (s.Get(f).MTime, s.Get(f).CTime));
    }

    [Fact]
    public void Attributes_of_an_orphan_can_still_be_changed()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Unlink(Root, "f"));
        s = s.Ok(Truncate(f, 10)).Ok(Chmod(f, 0x180));
        Assert.Equal((10L, FileMode.Regular | 0x180u), (s.Get(f).Size, s.Get(f).Mode));
    }
}
