using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Snapshot;

/// <summary>Regression: 16-bit length and count fields truncated big directories and files in a predecessor.</summary>
public class BigDirectoryTests
{
    private const ulong Root = FileSystemState.RootIno;
    private const int EntryCount = 100_000;

    // Lengths from 1 to 255 bytes so the directory record is far past 64 KiB and no name length is special.
    private static string NameOf(int i) => i.ToString("D6") + new string((char)('a' + (i % 26)), i % 250);

    [Fact]
    public void Directory_with_100000_entries_survives_a_round_trip()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "big"), out ulong big);
        for (var i = 0; i < EntryCount; i++)
        {
            var result = s.Apply(i % 1000 == 0 ? Mkdir(big, NameOf(i)) : File(big, NameOf(i)));
            Assert.True(result.Ok, $"{i}: {result.Error}");
            s = result.State;
        }

        var restored = Snapshots.RoundTrip(s);
        var entries = restored.Get(big).Entries;
        Assert.Equal(EntryCount, entries.Count);
        Assert.Equal(2u + (EntryCount / 1000), restored.Get(big).NLink);
        for (var i = 0; i < EntryCount; i++)
        {
            Assert.Equal(big + 1 + (ulong)i, entries[FileName.FromString(NameOf(i))]);
        }
        Assert.Equal(EntryCount + 2, restored.Inodes.Count);
        Assert.Equal(StateSnapshotCodec.StateHash(s), StateSnapshotCodec.StateHash(restored));
    }

    [Fact]
    public void File_with_70000_extents_and_a_size_past_4_GiB_survives_a_round_trip()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        var extents = Enumerable.Range(0, 70_000).Select(i => Extent(i * 2L, [(byte)i, (byte)(i >> 8)])).ToArray();
        s = s.Ok(Write(f, DefaultTime, extents)).Ok(Truncate(f, 6L << 30));

        var restored = Snapshots.RoundTrip(s).Get(f);
        Assert.Equal(70_000, restored.Extents.Count);
        Assert.Equal(6L << 30, restored.Size);
        Assert.Equal(140_000L, restored.Extents.AllocatedBytes);
        Assert.Equal(s.Get(f).Extents, restored.Extents);
    }
}
