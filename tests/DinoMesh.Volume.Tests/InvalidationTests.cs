using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// Which names a change made on another node is announced to the kernel as deleted. "Deleted" clears the link count of
/// the kernel's cached inode, which then drops the inode with its last dentry; so it is said only of an inode that left
/// the tree. The effects come from the real <see cref="FileSystemState.Apply"/>.
/// </summary>
public class InvalidationTests
{
    private const ulong Root = FileSystemState.RootIno;
    private const long Time = 1_700_000_000_000_000_000;

    [Fact]
    public void A_name_renamed_away_is_not_announced_as_deleted()
    {
        var (state, file) = WithFile();
        var effect = Apply(ref state, new Rename(Root, Name("p"), Root, Name("q")));

        var oldName = Assert.Single(effect.Entries, e => e.Name == Name("p"));
        Assert.Equal(file, oldName.OldChild);
        Assert.Equal(0UL, oldName.NewChild);
        Assert.False(CacheInvalidator.LastLinkGone(effect, oldName));
        Assert.All(effect.Entries, e => Assert.False(CacheInvalidator.LastLinkGone(effect, e)));
    }

    [Fact]
    public void Unlinking_one_of_two_hard_links_is_not_announced_as_deleted()
    {
        var (state, file) = WithFile();
        Apply(ref state, new Link(file, Root, Name("other")));
        var effect = Apply(ref state, new RemoveEntry(Root, Name("p"), false, NotOpenHere: [file]));

        var change = Assert.Single(effect.Entries);
        Assert.Equal(file, change.OldChild);
        Assert.False(CacheInvalidator.LastLinkGone(effect, change));
    }

    [Fact]
    public void Unlinking_the_last_link_and_removing_a_directory_are_announced_as_deleted()
    {
        var (state, file) = WithFile();
        var unlink = Apply(ref state, new RemoveEntry(Root, Name("p"), false, NotOpenHere: [file]));
        Assert.True(CacheInvalidator.LastLinkGone(unlink, Assert.Single(unlink.Entries)));

        // A file some node may hold open stays as an orphan: its name is gone for good all the same.
        var (held, heldFile) = WithFile();
        var orphaning = Apply(ref held, new RemoveEntry(Root, Name("p"), false));
        Assert.Contains(heldFile, orphaning.Orphaned);
        Assert.True(CacheInvalidator.LastLinkGone(orphaning, Assert.Single(orphaning.Entries)));

        Apply(ref state, new CreateNode(Root, Name("d"), FileMode.Directory | 0x1ED, 0, 0, 0));
        var rmdir = Apply(ref state, new RemoveEntry(Root, Name("d"), true));
        Assert.True(CacheInvalidator.LastLinkGone(rmdir, Assert.Single(rmdir.Entries)));
    }

    [Fact]
    public void A_rename_over_another_file_announces_no_name_as_deleted()
    {
        var (state, moved) = WithFile();
        Apply(ref state, new CreateNode(Root, Name("q"), FileMode.Regular | 0x1A4, 0, 0, 0));
        var replaced = state.Lookup(Root, Name("q")).Inode!.Ino;
        var effect = Apply(ref state, new Rename(Root, Name("p"), Root, Name("q"), NotOpenHere: [replaced]));

        // The replaced file left the tree, but its name now names the moved one: that name is refreshed, not deleted.
        Assert.Contains(replaced, effect.Removed);
        Assert.Contains(effect.Entries, e => e.Name == Name("p") && e.OldChild == moved && e.NewChild == 0);
        Assert.All(effect.Entries, e => Assert.False(CacheInvalidator.LastLinkGone(effect, e)));
    }

    private static (FileSystemState State, ulong File) WithFile()
    {
        var state = FileSystemState.Genesis(Time);
        var effect = Apply(ref state, new CreateNode(Root, Name("p"), FileMode.Regular | 0x1A4, 0, 0, 0));
        return (state, effect.Ino);
    }

    private static Effect Apply(ref FileSystemState state, MutationKind kind)
    {
        var result = state.Apply(new Mutation { Kind = kind, TimeNs = Time });
        Assert.Equal(FsError.None, result.Error);
        state = result.State;
        return result.Effect;
    }

    private static FileName Name(string s) => FileName.FromString(s);
}
