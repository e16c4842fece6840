using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

public class RenameExchangeTests
{
    private const ulong Root = FileSystemState.RootIno;
    private const uint Exchange = FileSystemState.RenameExchange;

    [Fact]
    public void Exchange_swaps_two_files_in_one_directory()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "a"), out ulong a).Ok(File(Root, "b"), out ulong b);
        s = s.Ok(Rename(Root, "a", Root, "b", Exchange, time: 31));
        Assert.Equal((b, a), (s.At("a").Ino, s.At("b").Ino));
        Assert.Equal((1u, 1u), (s.Get(a).NLink, s.Get(b).NLink));
        Assert.Equal((31L, 31L), (s.Get(a).CTime, s.Get(b).CTime));
    }

    [Fact]
    public void Exchange_of_a_file_and_a_directory_across_parents_moves_the_directory_link_and_parent()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "x"), out ulong x).Ok(Mkdir(Root, "y"), out ulong y)
            .Ok(File(x, "f"), out ulong f).Ok(Mkdir(y, "d"), out ulong d).Ok(File(d, "inside"));
        Assert.Equal((2u, 3u), (s.Get(x).NLink, s.Get(y).NLink));

        s = s.Ok(Rename(x, "f", y, "d", Exchange));
        Assert.Equal(d, s.At("x/f").Ino);
        Assert.Equal(f, s.At("y/d").Ino);
        Assert.Equal((3u, 2u), (s.Get(x).NLink, s.Get(y).NLink));
        Assert.Equal(x, s.Get(d).Parent);                              // ".." follows the directory
        Assert.Equal(2u, s.Get(d).NLink);
        Assert.Equal(1u, s.Get(f).NLink);
        Assert.True(s.Has(d, "inside"));
        Assert.Equal(4u, s.Get(Root).NLink);

        // And back the other way.
        s = s.Ok(Rename(y, "d", x, "f", Exchange));
        Assert.Equal((2u, 3u), (s.Get(x).NLink, s.Get(y).NLink));
        Assert.Equal(y, s.Get(d).Parent);
    }

    [Fact]
    public void Exchange_of_two_directories_across_parents_swaps_their_parents()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "x"), out ulong x).Ok(Mkdir(Root, "y"), out ulong y)
            .Ok(Mkdir(x, "a"), out ulong a).Ok(Mkdir(y, "b"), out ulong b).Ok(Mkdir(y, "c"));
        s = s.Ok(Rename(x, "a", y, "b", Exchange));
        Assert.Equal((y, x), (s.Get(a).Parent, s.Get(b).Parent));
        Assert.Equal((3u, 4u), (s.Get(x).NLink, s.Get(y).NLink));
        Assert.Equal(b, s.At("x/a").Ino);
        Assert.Equal(a, s.At("y/b").Ino);
    }

    [Fact]
    public void Exchange_with_a_non_empty_directory_is_allowed()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "a"), out ulong a).Ok(File(a, "x")).Ok(Mkdir(Root, "b"), out ulong b).Ok(File(b, "y"));
        s = s.Ok(Rename(Root, "a", Root, "b", Exchange));
        Assert.Equal(a, s.At("b").Ino);
        Assert.True(s.Has(s.At("b").Ino, "x"));
    }

    [Fact]
    public void Exchange_with_a_missing_target_is_ENOENT() =>
        StateAssert.Fresh().Ok(File(Root, "a")).Fails(Rename(Root, "a", Root, "b", Exchange), FsError.NoEntry);

    [Fact]
    public void Exchange_of_a_directory_with_something_inside_it_is_EINVAL()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "a"), out ulong a).Ok(Mkdir(a, "b"), out ulong b).Ok(File(b, "f"));
        s.Fails(Rename(Root, "a", b, "f", Exchange), FsError.Invalid);          // source is an ancestor of the target
        s.Fails(Rename(b, "f", Root, "a", Exchange), FsError.Invalid);          // target is an ancestor of the source
        s.Fails(Rename(a, "b", Root, "a", Exchange), FsError.Invalid);
    }

    [Fact]
    public void Exchange_of_two_hard_links_of_one_file_is_a_no_op()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "a"), out ulong a).Ok(Link(a, Root, "b"));
        var after = s.Ok(Rename(Root, "a", Root, "b", Exchange));
        Assert.Equal((a, a), (after.At("a").Ino, after.At("b").Ino));
        Assert.Equal(2u, after.Get(a).NLink);
    }
}
