using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;

namespace DinoMesh.Core.Tests.Snapshot;

// A diverged node takes the holder's state whole: the effect lists exactly what its kernel caches must drop.
public class StateReplacementTests
{
    [Fact]
    public void A_state_replaced_by_its_own_snapshot_changes_nothing()
    {
        var s = Run(RichState.Build(), seed: 7, count: 200);

        var effect = StateReplacement.Between(s, Snapshots.RoundTrip(s));

        Assert.Empty(effect.Touched);
        Assert.Empty(effect.Entries);
        Assert.Empty(effect.Removed);
        Assert.False(effect.MembersChanged);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Two_histories_from_one_state_differ_in_exactly_the_names_and_inodes_listed(int seed)
    {
        var common = Run(RichState.Build(), seed: 100 + seed, count: 100);
        var mine = Run(common, seed: 200 + seed, count: 150);
        var theirs = Snapshots.RoundTrip(Run(common, seed: 300 + seed, count: 150));

        var effect = StateReplacement.Between(mine, theirs);

        // Every name whose child differs, and no other.
        var expected = Names(mine).Concat(Names(theirs)).Select(n => (n.Dir, n.Name)).Distinct()
            .Select(n => new EntryChange(n.Dir, n.Name, Child(mine, n.Dir, n.Name), Child(theirs, n.Dir, n.Name)))
            .Where(c => c.OldChild != c.NewChild).ToHashSet();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, effect.Entries.ToHashSet());
        // Gone inodes are listed as removed; every inode not listed is the same on both sides.
        Assert.Equal(mine.Inodes.Keys.Where(i => !theirs.Inodes.ContainsKey(i)).Order(), effect.Removed.Order());
        var listed = effect.Touched.Concat(effect.Removed).ToHashSet();
        foreach (var (ino, before) in mine.Inodes)
        {
            if (listed.Contains(ino)) continue;
            var after = theirs.Inodes[ino];
            Assert.Equal((before.Mode, before.Size, before.MTime, before.CTime, before.NLink), (after.Mode, after.Size, after.MTime, after.CTime, after.NLink));
            Assert.Equal(before.Entries, after.Entries);
        }
        Assert.All(theirs.Inodes.Keys.Where(i => !mine.Inodes.ContainsKey(i)), i => Assert.Contains(i, effect.Touched));
        Assert.All(effect.ContentChanged, i => Assert.Contains(i, effect.Touched));
    }

    private static FileSystemState Run(FileSystemState state, int seed, int count)
    {
        foreach (var m in RandomLog.Generate(new Random(seed), count)) state = state.Apply(m).State;
        return state;
    }

    private static IEnumerable<(ulong Dir, FileName Name)> Names(FileSystemState s) =>
        s.Inodes.Values.Where(i => i.IsDirectory).SelectMany(d => d.Entries.Keys.Select(n => (d.Ino, n)));

    private static ulong Child(FileSystemState s, ulong dir, FileName name) =>
        s.Inodes.TryGetValue(dir, out var d) ? d.Entries.GetValueOrDefault(name) : 0;
}
