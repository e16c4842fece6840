using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

// df's "used" is kept by apply instead of counted per statfs: it must equal a count of the whole tree after every
// entry, whatever the entry did (writes, truncates, unlinks of open files, reclaims, renames over files, hard links).
public class StoredBytesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Apply_keeps_the_stored_bytes_equal_to_a_count_of_the_tree_after_every_entry(int seed)
    {
        var state = RichState.Build();
        Assert.Equal(Count(state), state.StoredBytes);
        var changed = 0;
        foreach (var m in RandomLog.Generate(new Random(seed), 2_000))
        {
            var next = state.Apply(m).State;
            Assert.Equal(Count(next), next.StoredBytes);
            if (next.StoredBytes != state.StoredBytes) changed++;
            state = next;
        }
        Assert.True(changed > 10, $"the history moved the stored bytes only {changed} times");
    }

    [Fact]
    public void A_snapshot_counts_the_stored_bytes_it_loads()
    {
        var state = RichState.Build();
        foreach (var m in RandomLog.Generate(new Random(9), 500)) state = state.Apply(m).State;
        Assert.True(state.StoredBytes > 0);

        Assert.Equal(state.StoredBytes, Snapshots.RoundTrip(state).StoredBytes);
    }

    [Fact]
    public void Hard_links_count_a_file_once_and_its_bytes_go_with_its_last_reclaim()
    {
        var s = FileSystemState.Genesis(1);
        s = s.Apply(File(FileSystemState.RootIno, "a")).State;
        var ino = s.Lookup(FileSystemState.RootIno, FileName.FromString("a")).Inode!.Ino;
        s = s.Apply(Write(ino, 0, new byte[100])).State;
        s = s.Apply(Link(ino, FileSystemState.RootIno, "b")).State;
        Assert.Equal(100, s.StoredBytes);

        s = s.Apply(Unlink(FileSystemState.RootIno, "a", notOpenHere: [])).State;
        Assert.Equal(100, s.StoredBytes);
        s = s.Apply(Unlink(FileSystemState.RootIno, "b", notOpenHere: [])).State;
        s = s.Apply(Reclaim(ino)).State;
        Assert.Null(s.Find(ino));
        Assert.Equal(0, s.StoredBytes);
    }

    private static long Count(FileSystemState s) => s.Inodes.Values.Where(i => i.IsRegular).Sum(i => i.Extents.AllocatedBytes);
}
