using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

public class RenameTests
{
    private const ulong Root = FileSystemState.RootIno;

    [Fact]
    public void Rename_moves_the_entry_and_keeps_the_inode()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d).Ok(File(Root, "f"), out ulong f);
        s = s.Ok(Rename(Root, "f", d, "g"));
        Assert.False(s.Has(Root, "f"));
        Assert.Equal(f, s.At("d/g").Ino);
        Assert.Equal(1u, s.Get(f).NLink);
    }

    [Fact]
    public void Missing_source_is_ENOENT()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d);
        s.Fails(Rename(Root, "nope", d, "x"), FsError.NoEntry);
    }

    [Fact]
    public void Gone_parent_is_ESTALE_and_file_parent_is_ENOTDIR()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        s.Fails(Rename(777, "f", Root, "g"), FsError.Stale);
        s.Fails(Rename(Root, "f", 777, "g"), FsError.Stale);
        s.Fails(Rename(f, "x", Root, "g"), FsError.NotADirectory);
        s.Fails(Rename(Root, "f", f, "g"), FsError.NotADirectory);
    }

    [Theory]
    [InlineData("f", "..")]
    [InlineData(".", "g")]
    [InlineData("f", "")]
    [InlineData("f", "a/b")]
    public void Bad_names_are_EINVAL(string name, string newName) =>
        StateAssert.Fresh().Ok(File(Root, "f")).Fails(Rename(Root, name, Root, newName), FsError.Invalid);

    [Fact]
    public void Too_long_target_name_is_ENAMETOOLONG() =>
        StateAssert.Fresh().Ok(File(Root, "f")).Fails(Rename(Root, "f", Root, new string('x', 256)), FsError.NameTooLong);

    [Fact]
    public void Rename_over_a_file_replaces_it_and_orphans_the_old_one()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "a"), out ulong a).Ok(File(Root, "b"), out ulong b);
        s = s.Ok(Rename(Root, "a", Root, "b", time: 99));
        Assert.Equal(a, s.At("b").Ino);
        Assert.False(s.Has(Root, "a"));
        Assert.Equal(0u, s.Get(b).NLink);
        Assert.Equal(99L, s.Get(b).CTime);
        Assert.Single(s.Get(Root).Entries);
    }

    [Fact]
    public void Rename_over_a_hard_linked_file_keeps_its_other_name()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "a")).Ok(File(Root, "b"), out ulong b).Ok(Link(b, Root, "b2"));
        s = s.Ok(Rename(Root, "a", Root, "b"));
        Assert.Equal(1u, s.Get(b).NLink);
        Assert.Equal(b, s.At("b2").Ino);
    }

    [Fact]
    public void Rename_of_a_directory_over_an_empty_directory_drops_the_old_one()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "a"), out ulong a).Ok(Mkdir(Root, "b"), out ulong b).Ok(File(a, "inside"));
        s = s.OkWith(Rename(Root, "a", Root, "b"), out var effect);
        Assert.Equal(a, s.At("b").Ino);
        Assert.Null(s.Find(b));
        Assert.Contains(b, effect.Removed);
        Assert.True(s.Has(a, "inside"));
        Assert.Equal(3u, s.Get(Root).NLink);
    }

    [Fact]
    public void Rename_over_a_non_empty_directory_is_ENOTEMPTY()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "a")).Ok(Mkdir(Root, "b"), out ulong b).Ok(File(b, "x"));
        s.Fails(Rename(Root, "a", Root, "b"), FsError.NotEmpty);
    }

    [Fact]
    public void Rename_of_a_file_over_a_directory_is_EISDIR() =>
        StateAssert.Fresh().Ok(File(Root, "f")).Ok(Mkdir(Root, "d")).Fails(Rename(Root, "f", Root, "d"), FsError.IsADirectory);

    [Fact]
    public void Rename_of_a_directory_over_a_file_is_ENOTDIR() =>
        StateAssert.Fresh().Ok(File(Root, "f")).Ok(Mkdir(Root, "d")).Fails(Rename(Root, "d", Root, "f"), FsError.NotADirectory);

    [Fact]
    public void NoReplace_onto_an_existing_name_is_EEXIST_and_onto_a_free_name_renames()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "a"), out ulong a).Ok(File(Root, "b"));
        s.Fails(Rename(Root, "a", Root, "b", FileSystemState.RenameNoReplace), FsError.Exists);
        s.Fails(Rename(Root, "a", Root, "a", FileSystemState.RenameNoReplace), FsError.Exists);
        s = s.Ok(Rename(Root, "a", Root, "c", FileSystemState.RenameNoReplace));
        Assert.Equal(a, s.At("c").Ino);
    }

    [Theory]
    [InlineData(3u)]
    [InlineData(4u)]
    [InlineData(0x80000000u)]
    public void Both_flags_or_unknown_flags_are_EINVAL(uint flags) =>
        StateAssert.Fresh().Ok(File(Root, "a")).Ok(File(Root, "b")).Fails(Rename(Root, "a", Root, "b", flags), FsError.Invalid);

    [Fact]
    public void Directory_into_itself_is_EINVAL()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "a"), out ulong a);
        s.Fails(Rename(Root, "a", a, "a"), FsError.Invalid);
    }

    [Fact]
    public void Directory_into_its_own_deep_subtree_is_EINVAL()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "a"), out ulong a).Ok(Mkdir(a, "b"), out ulong b)
            .Ok(Mkdir(b, "c"), out ulong c).Ok(Mkdir(c, "d"), out ulong d);
        s.Fails(Rename(Root, "a", d, "a"), FsError.Invalid);
        s.Fails(Rename(a, "b", c, "b"), FsError.Invalid);
        s.Fails(Rename(Root, "a", d, "x", FileSystemState.RenameNoReplace), FsError.Invalid);
    }

    [Fact]
    public void Directory_into_its_subtree_after_moves_is_still_EINVAL()
    {
        // The ancestry walk must follow the parents as renames left them, not as mkdir set them.
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "a"), out ulong a).Ok(Mkdir(Root, "b"), out ulong b).Ok(Mkdir(Root, "c"), out ulong c);
        s = s.Ok(Rename(Root, "b", a, "b")).Ok(Rename(Root, "c", b, "c"));
        s.Fails(Rename(Root, "a", c, "a"), FsError.Invalid);
        s = s.Ok(Rename(b, "c", Root, "c"));                            // c is out again: now allowed
        s.Ok(Rename(Root, "a", c, "a"));
    }

    // Found by the disk model: Linux checks "target is an ancestor of the source" before the types.
    [Fact]
    public void Rename_over_an_ancestor_directory_of_the_source_is_ENOTEMPTY()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "a"), out ulong a).Ok(Mkdir(a, "b"), out ulong b).Ok(File(b, "f")).Ok(Mkdir(b, "sub"));
        s.Fails(Rename(b, "f", Root, "a"), FsError.NotEmpty);
        s.Fails(Rename(b, "f", a, "b"), FsError.NotEmpty);
        s.Fails(Rename(b, "sub", Root, "a"), FsError.NotEmpty);
        s.Fails(Rename(b, "f", Root, "a", FileSystemState.RenameExchange), FsError.Invalid);
    }

    [Fact]
    public void Directory_next_to_itself_and_into_a_sibling_is_fine()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "a"), out ulong a).Ok(Mkdir(Root, "ab"), out ulong ab);
        s = s.Ok(Rename(Root, "a", ab, "a"));
        Assert.Equal(a, s.At("ab/a").Ino);
        Assert.Equal(ab, s.Get(a).Parent);
    }

    [Fact]
    public void Rename_onto_a_hard_link_of_itself_is_a_successful_no_op()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "a"), out ulong a).Ok(Mkdir(Root, "d"), out ulong d).Ok(Link(a, d, "b"));
        var after = s.Ok(Rename(Root, "a", d, "b"));
        Assert.Equal(a, after.At("a").Ino);
        Assert.Equal(a, after.At("d/b").Ino);
        Assert.Equal(2u, after.Get(a).NLink);
        Assert.Equal(StateSnapshotCodec.StateHash(s with { Version = after.Version }), StateSnapshotCodec.StateHash(after));
    }

    [Fact]
    public void Rename_onto_its_own_name_is_a_successful_no_op()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"));
        var after = s.Ok(Rename(Root, "d", Root, "d"));
        Assert.Equal(StateSnapshotCodec.StateHash(s with { Version = after.Version }), StateSnapshotCodec.StateHash(after));
    }

    [Fact]
    public void Rename_sets_ctime_of_the_moved_inode_and_mtime_ctime_of_both_parents()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "x", time: 1), out ulong x).Ok(Mkdir(Root, "y", time: 1), out ulong y)
            .Ok(File(x, "f", time: 1), out ulong f);
        s = s.Ok(Rename(x, "f", y, "g", time: 1234));
        Assert.Equal(1234L, s.Get(f).CTime);
        Assert.Equal(1L, s.Get(f).MTime);
        Assert.Equal((1234L, 1234L), (s.Get(x).MTime, s.Get(x).CTime));
        Assert.Equal((1234L, 1234L), (s.Get(y).MTime, s.Get(y).CTime));
    }

    [Fact]
    public void Rename_reports_both_entry_changes()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "a"), out ulong a).Ok(File(Root, "b"), out ulong b);
        s.OkWith(Rename(Root, "a", Root, "b"), out var effect);
        Assert.Contains(new EntryChange(Root, FileName.FromString("a"), a, 0), effect.Entries);
        Assert.Contains(new EntryChange(Root, FileName.FromString("b"), b, a), effect.Entries);
    }
}
