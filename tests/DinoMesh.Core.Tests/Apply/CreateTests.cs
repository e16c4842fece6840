using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

public class CreateTests
{
    private const ulong Root = FileSystemState.RootIno;

    [Fact]
    public void Create_file_sets_every_attribute_from_the_entry_and_links_it_into_the_parent()
    {
        var s = StateAssert.Fresh().OkWith(Create(Root, "f", FileMode.Regular | 0x180, uid: 1000, gid: 100, time: 42_000_000_007), out var effect);

        var f = s.Get(effect.Ino);
        Assert.Equal(FileMode.Regular | 0x180u, f.Mode);
        Assert.Equal((1000u, 100u, 1u, 0L), (f.Uid, f.Gid, f.NLink, f.Size));
        Assert.Equal((42_000_000_007L, 42_000_000_007L, 42_000_000_007L), (f.ATime, f.MTime, f.CTime));
        Assert.Equal(Root, f.Parent);
        Assert.Equal(effect.Ino, s.Get(Root).Entries[FileName.FromString("f")]);
        Assert.Equal(42_000_000_007L, s.Get(Root).MTime);
        Assert.Equal(42_000_000_007L, s.Get(Root).CTime);
        Assert.Contains(new EntryChange(Root, FileName.FromString("f"), 0, effect.Ino), effect.Entries);
    }

    [Fact]
    public void Existing_name_is_EEXIST_whatever_the_type()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f")).Ok(Mkdir(Root, "d"));
        s.Fails(File(Root, "f"), FsError.Exists);
        s.Fails(Mkdir(Root, "f"), FsError.Exists);
        s.Fails(File(Root, "d"), FsError.Exists);
        s.Fails(Symlink(Root, "d", "x"), FsError.Exists);
    }

    [Fact]
    public void Parent_that_is_a_file_is_ENOTDIR()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        s.Fails(File(f, "x"), FsError.NotADirectory);
        s.Fails(Mkdir(f, "x"), FsError.NotADirectory);
    }

    [Fact]
    public void Parent_that_is_gone_is_ESTALE()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d).Ok(Rmdir(Root, "d"));
        s.Fails(File(d, "x"), FsError.Stale);
        s.Fails(File(999, "x"), FsError.Stale);
    }

    [Fact]
    public void Name_of_255_bytes_works_and_256_is_ENAMETOOLONG()
    {
        var s = StateAssert.Fresh().Ok(File(Root, new string('a', 255)));
        Assert.True(s.Has(Root, new string('a', 255)));
        s.Fails(File(Root, new string('b', 256)), FsError.NameTooLong);
        // Bytes count, not characters: 128 two-byte characters are 256 bytes.
        s.Fails(File(Root, new string('é', 128)), FsError.NameTooLong);
        s.Ok(File(Root, new string('é', 127)));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("/")]
    [InlineData("a\0b")]
    public void Names_the_kernel_never_sends_are_EINVAL(string name)
    {
        var s = StateAssert.Fresh();
        s.Fails(File(Root, name), FsError.Invalid);
        s.Fails(Mkdir(Root, name), FsError.Invalid);
    }

    [Fact]
    public void Names_are_bytes_so_non_UTF8_names_are_distinct_and_kept()
    {
        byte[] latin = [0xE9, 0x74, 0xE9];          // "été" in Latin-1, invalid UTF-8
        var s = StateAssert.Fresh().Ok(Create(Root, latin, Mutations.RegularFile), out ulong ino);
        Assert.Equal(ino, s.Get(Root).Entries[FileName.FromBytes(latin)]);
        s.Ok(File(Root, "été"));                                      // the UTF-8 spelling is another name
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(0x3000u)]
    [InlineData(0x5000u)]
    [InlineData(0xE000u)]
    [InlineData(0xF000u)]
    public void Unknown_type_bits_are_EINVAL(uint type) =>
        StateAssert.Fresh().Fails(Create(Root, "x", type | 0x1A4), FsError.Invalid);

    [Theory]
    [InlineData(FileMode.Fifo)]
    [InlineData(FileMode.Socket)]
    [InlineData(FileMode.CharDevice)]
    [InlineData(FileMode.BlockDevice)]
    public void Special_files_keep_type_and_rdev(uint type)
    {
        var s = StateAssert.Fresh().Ok(Mknod(Root, "n", type | 0x1A4, rdev: 0x0801), out ulong ino);
        Assert.Equal(type, FileMode.TypeOf(s.Get(ino).Mode));
        Assert.Equal(0x0801u, s.Get(ino).RDev);
        Assert.Equal(1u, s.Get(ino).NLink);
    }

    [Fact]
    public void Symlink_keeps_its_target_bytes()
    {
        var s = StateAssert.Fresh().Ok(Symlink(Root, "l", "../some/where"), out ulong ino);
        Assert.True(s.Get(ino).IsSymlink);
        Assert.Equal("../some/where"u8.ToArray(), s.Get(ino).SymlinkTarget);
    }

    [Fact]
    public void Symlink_with_empty_target_is_ENOENT() =>
        StateAssert.Fresh().Fails(Symlink(Root, "l", ""), FsError.NoEntry);

    [Fact]
    public void Symlink_target_of_4095_bytes_works_and_4096_is_ENAMETOOLONG()
    {
        var s = StateAssert.Fresh();
        s.Ok(Symlink(Root, "l", new string('t', FileSystemState.MaxSymlinkTarget)));
        s.Fails(Symlink(Root, "l", new string('t', FileSystemState.MaxSymlinkTarget + 1)), FsError.NameTooLong);
    }

    [Fact]
    public void The_umask_limits_the_requested_mode()
    {
        var s = StateAssert.Fresh().Ok(Create(Root, Bytes("f"), FileMode.Regular | 0x1B6, umask: 0x12), out ulong ino);  // 0666 & ~022
        Assert.Equal(FileMode.Regular | 0x1A4u, s.Get(ino).Mode);
    }

    [Fact]
    public void Mkdir_gives_the_new_directory_two_links_and_its_parent_one_more()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d);
        Assert.Equal(2u, s.Get(d).NLink);
        Assert.Equal(3u, s.Get(Root).NLink);
        Assert.Equal(Root, s.Get(d).Parent);
        Assert.Empty(s.Get(d).Entries);
    }

    [Fact]
    public void A_file_does_not_add_a_link_to_its_parent()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f")).Ok(Symlink(Root, "l", "f"));
        Assert.Equal(2u, s.Get(Root).NLink);
    }
}
