using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using DinoMesh.Core.Wire;
using static DinoMesh.Core.Tests.Support.Mutations;
using Extent = DinoMesh.Core.Metadata.Extent;

namespace DinoMesh.Core.Tests.Apply;

// Background compaction: a run of extents becomes one, only while the run is exactly what the compactor read.
public class CompactExtentsTests
{
    private const ulong Root = FileSystemState.RootIno;

    private static byte[] Fill(int length, byte value) => [.. Enumerable.Repeat(value, length)];

    /// <summary>A file of four 8 KiB appends at times 100..400, each its own chunk: [0, 32 KiB) in four extents.</summary>
    private static (FileSystemState, ulong) Appended()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f", time: 1), out ulong f);
        for (var i = 0; i < 4; i++) s = s.Ok(Write(f, i * 8192, Fill(8192, (byte)(i + 1)), time: (i + 1) * 100));
        return (s, f);
    }

    private static byte[] Content(int blocks)
    {
        var bytes = new byte[blocks * 8192];
        for (var i = 0; i < blocks; i++) bytes.AsSpan(i * 8192, 8192).Fill((byte)(i + 1));
        return bytes;
    }

    private static Mutation Compact(FileSystemState s, ulong f, long from, long length, Extent replacement) =>
        At(999, new CompactExtents(f, new ByteRange(from, length), ExtentDigest.Of(s.Get(f).Extents.Touching(from, from + length)), replacement));

    [Fact]
    public void A_matching_run_becomes_one_extent_with_size_and_times_unchanged()
    {
        var (s, f) = Appended();
        var before = s.Get(f);
        var merged = Content(4);
        var replacement = new Extent(0, merged.Length, ChunkId.Of(merged), 0);

        s = s.OkWith(Compact(s, f, 0, merged.Length, replacement), out var effect);

        var after = s.Get(f);
        Assert.Equal(replacement, Assert.Single(after.Extents));
        Assert.Equal((before.Size, before.MTime, before.CTime), (after.Size, after.MTime, after.CTime));
        Assert.Equal(before.Extents.AllocatedBytes, after.Extents.AllocatedBytes);
        // The four old chunks lost their only reference; the new one gained its first. Nothing for a page cache to drop.
        Assert.Equal(Enumerable.Range(1, 4).Select(i => ChunkId.Of(Fill(8192, (byte)i))).OrderBy(c => c.ToString()), effect.FreedChunks.OrderBy(c => c.ToString()));
        Assert.Equal([replacement.Chunk], effect.AddedChunks);
        Assert.Empty(effect.ContentChanged);
        Assert.Empty(effect.Touched);
        Assert.False(s.ChunkRefs.ContainsKey(ChunkId.Of(Fill(8192, 1))));
        Assert.Equal(1, s.ChunkRefs[replacement.Chunk]);
    }

    [Fact]
    public void A_small_run_can_become_one_inline_extent()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        for (var i = 0; i < 3; i++) s = s.Ok(Write(f, 1, new Extent(i * 200, 200, default, 0, Fill(200, (byte)(i + 1)))));
        var merged = new byte[600];
        for (var i = 0; i < 3; i++) merged.AsSpan(i * 200, 200).Fill((byte)(i + 1));

        s = s.Ok(Compact(s, f, 0, 600, new Extent(0, 600, default, 0, merged)));

        Assert.Equal(merged, Assert.Single(s.Get(f).Extents).Inline);
    }

    [Fact]
    public void A_write_into_the_range_after_the_digest_was_taken_makes_it_a_no_op()
    {
        var (s, f) = Appended();
        var merged = Content(4);
        var compaction = Compact(s, f, 0, merged.Length, new Extent(0, merged.Length, ChunkId.Of(merged), 0));
        // Another node writes 100 bytes inside the range between the compactor's read and its commit.
        s = s.Ok(Write(f, 5000, Fill(100, 9), time: 500));
        var before = s.Get(f);

        s = s.OkWith(compaction, out var effect);

        Assert.Same(before.Extents, s.Get(f).Extents);
        Assert.Equal(Effect.None with { Proposer = effect.Proposer }, effect);
        Assert.False(s.ChunkRefs.ContainsKey(ChunkId.Of(merged)));
    }

    [Fact]
    public void A_write_that_keeps_the_tiling_but_changes_a_chunk_makes_it_a_no_op()
    {
        var (s, f) = Appended();
        var merged = Content(4);
        var compaction = Compact(s, f, 0, merged.Length, new Extent(0, merged.Length, ChunkId.Of(merged), 0));
        s = s.Ok(Write(f, 8192, Fill(8192, 7), time: 500));   // the same offsets and lengths, other bytes

        s = s.Ok(compaction);

        Assert.Equal(4, s.Get(f).Extents.Count);
        Assert.Equal(ChunkId.Of(Fill(8192, 7)), s.Get(f).Extents.ElementAt(1).Chunk);
    }

    [Fact]
    public void A_range_with_a_hole_is_left_alone()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        s = s.Ok(Write(f, 0, Fill(100, 1))).Ok(Write(f, 200, Fill(100, 2)));
        var merged = new byte[300];

        s = s.Ok(Compact(s, f, 0, 300, new Extent(0, 300, ChunkId.Of(merged), 0)));

        Assert.Equal(2, s.Get(f).Extents.Count);
        Assert.Equal(200, s.Get(f).Extents.AllocatedBytes);
    }

    [Fact]
    public void An_extent_straddling_either_end_of_the_range_leaves_it_alone()
    {
        var (s, f) = Appended();
        var inner = Content(4).AsSpan(4096, 16384).ToArray();
        // [4096, 20480) cuts the first and third extents: replacing it would drop the halves outside.
        s = s.Ok(Compact(s, f, 4096, 16384, new Extent(4096, 16384, ChunkId.Of(inner), 0)));
        Assert.Equal(4, s.Get(f).Extents.Count);
        // A range ending past the file's last extent is a hole at its end.
        s = s.Ok(Compact(s, f, 0, 40000, new Extent(0, 40000, ChunkId.Of(new byte[40000]), 0)));
        Assert.Equal(4, s.Get(f).Extents.Count);
    }

    [Fact]
    public void Malformed_compactions_are_refused_as_a_write_would_be()
    {
        var (s, f) = Appended();
        var digest = ExtentDigest.Of(s.Get(f).Extents);
        var chunk = ChunkId.Of(Content(4));
        Mutation M(ulong ino, ByteRange range, byte[] expected, Extent replacement) => At(999, new CompactExtents(ino, range, expected, replacement));

        s.Fails(M(f, new ByteRange(0, 32768), digest, new Extent(0, 32767, chunk, 0)), FsError.Invalid);        // replacement shorter than the range
        s.Fails(M(f, new ByteRange(0, 32768), digest, new Extent(1, 32768, chunk, 0)), FsError.Invalid);        // elsewhere
        s.Fails(M(f, new ByteRange(-1, 32768), digest, new Extent(-1, 32768, chunk, 0)), FsError.Invalid);
        s.Fails(M(f, new ByteRange(0, 0), digest, new Extent(0, 0, chunk, 0)), FsError.Invalid);
        s.Fails(M(f, new ByteRange(0, 32768), digest, new Extent(0, 32768, chunk, -5)), FsError.Invalid);
        s.Fails(M(f, new ByteRange(0, 32768), digest[..16], new Extent(0, 32768, chunk, 0)), FsError.Invalid);
        s.Fails(M(f, new ByteRange(0, 8000), digest, new Extent(0, 8000, default, 0, new byte[Extent.MaxInline + 1])), FsError.Invalid);
        s.Fails(M(f, new ByteRange(0, 8000), digest, new Extent(0, 8000, default, 0, new byte[100])), FsError.Invalid);  // inline shorter than the range
        s.Fails(M(f, new ByteRange(FileSystemState.MaxFileSize, 1), digest, new Extent(FileSystemState.MaxFileSize, 1, chunk, 0)), FsError.TooBig);
        s.Fails(M(12345, new ByteRange(0, 32768), digest, new Extent(0, 32768, chunk, 0)), FsError.Stale);
        s.Fails(M(Root, new ByteRange(0, 32768), digest, new Extent(0, 32768, chunk, 0)), FsError.IsADirectory);
    }

    [Fact]
    public void The_digest_differs_for_any_change_of_offset_length_chunk_chunk_offset_or_inline_bytes()
    {
        var a = ChunkId.Of([1]);
        var b = ChunkId.Of([2]);
        Extent[] baseRun = [new(0, 10, a, 0), new(10, 5, default, 1, [1, 2, 3, 4, 5, 6])];
        var digests = new[]
        {
            ExtentDigest.Of(baseRun),
            ExtentDigest.Of([baseRun[0] with { Offset = 1 }, baseRun[1]]),
            ExtentDigest.Of([baseRun[0] with { Length = 11 }, baseRun[1]]),
            ExtentDigest.Of([baseRun[0] with { Chunk = b }, baseRun[1]]),
            ExtentDigest.Of([baseRun[0] with { ChunkOffset = 1 }, baseRun[1]]),
            ExtentDigest.Of([baseRun[0], baseRun[1] with { Inline = [1, 2, 3, 4, 5, 7] }]),
            ExtentDigest.Of([baseRun[0]]),
        };
        Assert.Equal(digests.Length, digests.Select(Convert.ToHexString).Distinct().Count());
        Assert.Equal(ExtentDigest.Of(baseRun), ExtentDigest.Of([.. baseRun]));
    }

    [Fact]
    public void A_compaction_survives_an_encode_decode_round_trip()
    {
        var (s, f) = Appended();
        var merged = Content(4);
        var m = Compact(s, f, 0, merged.Length, new Extent(0, merged.Length, ChunkId.Of(merged), 0));
        var back = MutationCodec.Decode(MutationCodec.Encode(m));
        WireEquality.AssertEqual(m, back);
        Assert.Equal(StateSnapshotCodec.StateHash(s.Apply(m).State), StateSnapshotCodec.StateHash(s.Apply(back).State));
    }
}
