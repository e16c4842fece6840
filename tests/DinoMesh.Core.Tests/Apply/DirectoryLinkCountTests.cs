using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

/// <summary>A directory's nlink is 2 ("." and its entry in the parent) plus one ".." per subdirectory.</summary>
public class DirectoryLinkCountTests
{
    private const ulong Root = FileSystemState.RootIno;

    [Fact]
    public void Mkdir_and_rmdir_count_subdirectories_only()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d);
        s = s.Ok(Mkdir(d, "a")).Ok(Mkdir(d, "b")).Ok(File(d, "f")).Ok(Symlink(d, "l", "f"));
        Assert.Equal(4u, s.Get(d).NLink);
        s = s.Ok(Rmdir(d, "a"));
        Assert.Equal(3u, s.Get(d).NLink);
        s = s.Ok(Unlink(d, "f"));
        Assert.Equal(3u, s.Get(d).NLink);
        s = s.Ok(Rmdir(d, "b"));
        Assert.Equal(2u, s.Get(d).NLink);
        Assert.Equal(3u, s.Get(Root).NLink);
    }

    [Fact]
    public void Rename_of_a_directory_across_parents_moves_one_link()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "x"), out ulong x).Ok(Mkdir(Root, "y"), out ulong y).Ok(Mkdir(x, "d"), out ulong d);
        Assert.Equal((3u, 2u), (s.Get(x).NLink, s.Get(y).NLink));

        s = s.Ok(Rename(x, "d", y, "d2"));
        Assert.Equal((2u, 3u, 2u), (s.Get(x).NLink, s.Get(y).NLink, s.Get(d).NLink));
        Assert.Equal(y, s.Get(d).Parent);
        Assert.Equal(4u, s.Get(Root).NLink);
    }

    [Fact]
    public void Rename_of_a_directory_within_its_parent_keeps_the_counts()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "x"), out ulong x).Ok(Mkdir(x, "d"));
        s = s.Ok(Rename(x, "d", x, "e"));
        Assert.Equal(3u, s.Get(x).NLink);
    }

    [Fact]
    public void Rename_of_a_file_across_parents_changes_no_directory_count()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "x"), out ulong x).Ok(Mkdir(Root, "y"), out ulong y).Ok(File(x, "f"));
        s = s.Ok(Rename(x, "f", y, "f"));
        Assert.Equal((2u, 2u), (s.Get(x).NLink, s.Get(y).NLink));
    }

    [Fact]
    public void Rename_of_a_directory_over_an_empty_directory_in_another_parent()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "x"), out ulong x).Ok(Mkdir(Root, "y"), out ulong y)
            .Ok(Mkdir(x, "d"), out ulong d).Ok(Mkdir(y, "victim"));
        s = s.Ok(Rename(x, "d", y, "victim"));
        // x lost d's "..", y lost victim's and gained d's.
        Assert.Equal((2u, 3u), (s.Get(x).NLink, s.Get(y).NLink));
        Assert.Equal(d, s.Get(y).Entries[FileName.FromString("victim")]);
    }

    [Fact]
    public void Rename_of_a_directory_over_an_empty_directory_in_the_same_parent()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "x"), out ulong x).Ok(Mkdir(x, "a")).Ok(Mkdir(x, "b"));
        Assert.Equal(4u, s.Get(x).NLink);
        s = s.Ok(Rename(x, "a", x, "b"));
        Assert.Equal(3u, s.Get(x).NLink);
    }
}
