using DinoMesh.Core.Metadata;
using Metadata = DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

// Small writes carry their bytes in the mutation instead of a chunk.
public class InlineExtentTests
{
    private const ulong Root = FileSystemState.RootIno;

    private static Metadata.Extent Inline(long offset, byte[] bytes, long inlineOffset = 0, long? length = null) =>
        new(offset, length ?? bytes.Length - inlineOffset, default, inlineOffset, bytes);

    [Fact]
    public void Inline_bytes_are_kept_and_clipped_by_later_writes()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        s = s.Ok(Write(f, 1, Inline(0, "hello world"u8.ToArray())));
        s = s.Ok(Write(f, 1, Inline(0, "HE"u8.ToArray())));
        var extents = s.Inodes[f].Extents.ToList();
        Assert.Equal(11, s.Inodes[f].Size);
        Assert.Equal(2, extents.Count);
        var tail = extents[1];
        Assert.Equal(2, tail.Offset);
        Assert.Equal("llo world", System.Text.Encoding.ASCII.GetString(tail.Inline!, (int)tail.ChunkOffset, (int)tail.Length));
    }

    [Fact]
    public void Inline_extents_survive_a_snapshot_round_trip()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Write(f, 1, Inline(5, "abcdef"u8.ToArray(), 1)));
        var back = StateSnapshotCodec.Decode(StateSnapshotCodec.Encode(s));
        Assert.Equal(StateSnapshotCodec.StateHash(s), StateSnapshotCodec.StateHash(back));
        var e = Assert.Single(back.Inodes[f].Extents);
        Assert.Equal("bcdef", System.Text.Encoding.ASCII.GetString(e.Inline!, (int)e.ChunkOffset, (int)e.Length));
    }

    [Fact]
    public void Malformed_inline_extents_are_EINVAL()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        s.Fails(Write(f, 1, Inline(0, new byte[Metadata.Extent.MaxInline + 1])), FsError.Invalid);
        s.Fails(Write(f, 1, Inline(0, new byte[10], inlineOffset: 8, length: 5)), FsError.Invalid);
        s.Fails(Write(f, 1, Inline(-1, new byte[10])), FsError.Invalid);
    }
}
