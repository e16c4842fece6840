namespace DinoMesh.Volume.Tests;

/// <summary>Inodes changed elsewhere are taken once each, and the set starts over past its bound.</summary>
public class ChangedElsewhereTests
{
    [Fact]
    public void An_inode_changed_elsewhere_is_taken_once()
    {
        var changed = new ChangedElsewhere();
        changed.Add(5);
        changed.Add(5);
        Assert.Equal(1, changed.Count);
        Assert.True(changed.TryTake(5));
        Assert.False(changed.TryTake(5));
        Assert.Equal(0, changed.Count);
    }

    [Fact]
    public void Past_its_bound_the_set_starts_over()
    {
        var changed = new ChangedElsewhere();
        for (ulong ino = 1; ino <= ChangedElsewhere.Bound; ino++) changed.Add(ino);
        Assert.Equal(ChangedElsewhere.Bound, changed.Count);

        changed.Add(ChangedElsewhere.Bound + 1UL);

        Assert.Equal(1, changed.Count);
        Assert.False(changed.TryTake(1));
        Assert.True(changed.TryTake(ChangedElsewhere.Bound + 1UL));
    }
}
