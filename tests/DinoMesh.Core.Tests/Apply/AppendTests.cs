using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using DinoMesh.Core.Wire;
using MessagePack;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

/// <summary>
/// <see cref="WriteExtents.AppendedAt"/>: an O_APPEND write lands at the end of the file as the log orders it, not where
/// its writer staged it. Two nodes that both saw size S and appended there, or an append whose commit came late, used
/// to land over each other (the later commit won); now every appended byte is there exactly once.
/// </summary>
public class AppendTests
{
    private const ulong Root = FileSystemState.RootIno;
    private static readonly byte[] ClientA = [.. Enumerable.Range(1, 16).Select(i => (byte)i)];

    private static (FileSystemState, ulong) FileOf(byte[] contents)
    {
        var s = StateAssert.Fresh().Ok(File(Root, "log"), out ulong f);
        return (contents.Length == 0 ? s : s.Ok(Write(f, 0, contents)), f);
    }

    /// <summary>What a node commits for one line appended where it took the end of the file to be.</summary>
    private static Mutation Append(ulong ino, long at, string line) =>
        At(DefaultTime, new WriteExtents(ino, [Extent(at, Bytes(line))], (ulong)(at + line.Length), AppendedAt: at));

    private const long DefaultTime = 5_000;

    /// <summary>The file's bytes as the extents say (each extent here is one chunk holding exactly its bytes).</summary>
    private static string Contents(FileSystemState s, ulong ino, Dictionary<Core.Chunks.ChunkId, byte[]> chunks)
    {
        var inode = s.Get(ino);
        var bytes = new byte[inode.Size];
        foreach (var e in inode.Extents) chunks[e.Chunk].AsSpan((int)e.ChunkOffset, (int)e.Length).CopyTo(bytes.AsSpan((int)e.Offset));
        return System.Text.Encoding.UTF8.GetString(bytes);
    }

    private static Dictionary<Core.Chunks.ChunkId, byte[]> Chunks(params string[] pieces) =>
        pieces.Select(Bytes).DistinctBy(b => Core.Chunks.ChunkId.Of(b)).ToDictionary(b => Core.Chunks.ChunkId.Of(b));

    [Fact]
    public void Two_appends_both_made_at_the_end_S_land_one_after_the_other_in_log_order()
    {
        var (s, f) = FileOf(Bytes("head\n"));
        // Node A and node B both saw size 5 and appended there; B's commit came first in the log.
        s = s.OkWith(Append(f, 5, "b-line\n"), out var first).OkWith(Append(f, 5, "a-line\n"), out var second);
        Assert.Equal("head\nb-line\na-line\n", Contents(s, f, Chunks("head\n", "b-line\n", "a-line\n")));
        Assert.Equal(19L, s.Get(f).Size);
        Assert.Equal((0L, 7L), (first.AppendShift, second.AppendShift));
    }

    [Fact]
    public void A_write_without_the_key_is_laid_where_it_says_as_before()
    {
        var (s, f) = FileOf(Bytes("head\n"));
        s = s.Ok(Write(f, 5, Bytes("b-line\n"))).Ok(Write(f, 5, Bytes("a-line\n")));
        // The later one overwrites the earlier: what every entry written before the key existed did, and still does.
        Assert.Equal("head\na-line\n", Contents(s, f, Chunks("head\n", "b-line\n", "a-line\n")));
    }

    [Fact]
    public void A_late_append_lands_after_what_was_acknowledged_meanwhile_never_over_it()
    {
        var (s, f) = FileOf(Bytes("x\n"));
        // A's line, staged at 2 (its commit timed out, then reached the log anyway), comes after B's two acknowledged lines.
        s = s.Ok(Append(f, 2, "b1\n")).Ok(Append(f, 5, "b2\n")).Ok(Append(f, 2, "a1\n"));
        Assert.Equal("x\nb1\nb2\na1\n", Contents(s, f, Chunks("x\n", "b1\n", "b2\n", "a1\n")));
    }

    [Fact]
    public void Bytes_below_the_append_point_keep_their_offsets_and_the_rest_moves_as_one_run()
    {
        var (s, f) = FileOf(Bytes("0123456789"));
        s = s.Ok(Append(f, 10, "other\n"));
        // The writer overwrote byte 0 (a plain pwrite) and appended "ab" then "cd" at what it took to be 10 and 12,
        // with one extent that straddles its append point (8..12: two old bytes rewritten, then the append's start).
        var mixed = new WriteExtents(f, [Extent(0, Bytes("Z")), Extent(8, Bytes("XYab")), Extent(12, Bytes("cd"))], 14, AppendedAt: 10);
        s = s.OkWith(At(DefaultTime, mixed), out var effect);
        Assert.Equal("Z1234567XYother\nabcd", Contents(s, f, Chunks("0123456789", "other\n", "Z", "XYab", "cd")));
        Assert.Equal(20L, s.Get(f).Size);
        Assert.Equal(6L, effect.AppendShift);
    }

    [Fact]
    public void An_append_to_a_file_cut_shorter_meanwhile_lands_at_its_new_end()
    {
        var (s, f) = FileOf(Bytes("0123456789"));
        s = s.Ok(Truncate(f, 4)).OkWith(Append(f, 10, "new\n"), out var effect);
        Assert.Equal("0123new\n", Contents(s, f, Chunks("0123456789", "new\n")));
        Assert.Equal(-6L, effect.AppendShift);
    }

    [Fact]
    public void A_retried_append_with_the_same_op_id_lands_once()
    {
        var (s, f) = FileOf([]);
        var append = Append(f, 0, "once\n").WithOp(ClientA, 9);
        s = s.Ok(append).Ok(Append(f, 0, "other\n")).Ok(append with { });
        Assert.Equal("once\nother\n", Contents(s, f, Chunks("once\n", "other\n")));
    }

    [Fact]
    public void An_append_point_outside_the_file_size_range_is_EINVAL()
    {
        var (s, f) = FileOf([]);
        s.Fails(At(1, new WriteExtents(f, [Extent(0, [1])], 1, AppendedAt: -1)), FsError.Invalid);
        s.Fails(At(1, new WriteExtents(f, [Extent(0, [1])], 1, AppendedAt: FileSystemState.MaxFileSize + 1)), FsError.Invalid);
    }

    [Fact]
    public void The_key_survives_the_wire_and_two_nodes_apply_it_alike()
    {
        var (s, f) = FileOf(Bytes("head\n"));
        var a = Append(f, 5, "a\n");
        var decoded = MutationCodec.Decode(MutationCodec.Encode(a));
        Assert.Equal(5L, ((WriteExtents)decoded.Kind).AppendedAt);
        var here = s.Ok(Append(f, 5, "b\n")).Ok(a);
        var there = s.Ok(Append(f, 5, "b\n")).Ok(decoded);
        Assert.Equal(StateSnapshotCodec.StateHash(here), StateSnapshotCodec.StateHash(there));
    }

    /// <summary>
    /// A log written before the key existed (WriteExtents as an array of five fields) replays to exactly the state it
    /// gave: overlapping writes at one offset still overlap. Each entry here is re-encoded the old way from the current
    /// bytes (the same array without its sixth field), and the replay must equal applying the same writes as they were.
    /// </summary>
    [Fact]
    public void A_log_in_the_old_five_field_encoding_replays_to_the_old_state()
    {
        var (s0, f) = FileOf(Bytes("head\n"));
        Mutation[] log =
        [
            Write(f, 5, Bytes("b-line\n")),
            Write(f, 5, Bytes("a-line\n")),
            At(7, new WriteExtents(f, [Extent(20, Bytes("zz"))], 40, 99, [new ByteRange(3, 1)])),
        ];
        var direct = s0;
        var replayed = s0;
        foreach (var m in log)
        {
            var old = OldEncoding(m);
            Assert.Equal(0x95, old[3]);
            var decoded = MutationCodec.Decode(old);
            Assert.Null(((WriteExtents)decoded.Kind).AppendedAt);
            direct = direct.Ok(m);
            replayed = replayed.Ok(decoded);
        }
        Assert.Equal(StateSnapshotCodec.StateHash(direct), StateSnapshotCodec.StateHash(replayed));
        StateEquality.AssertEqual(direct, replayed);
        // The state it gave: the second write over the first, byte 3 a hole, the file 40 long.
        Assert.Equal(40L, replayed.Get(f).Size);
        Assert.Equal([(0L, 3L), (4L, 1L), (5L, 7L), (20L, 2L)], replayed.Get(f).Extents.Select(e => (e.Offset, e.Length)).ToArray());
    }

    [Fact]
    public void The_old_five_field_golden_bytes_still_decode()
    {
        // The golden bytes of the sample WriteExtents before the key was added (MutationGoldenBytesTests pins the new ones).
        const string before = "9792069505929500cd1000c420000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fcc80c095cd200003c000c403010203cd23284d9192cd1000cd100092c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        WireEquality.AssertEqual(WireSamples.All["WriteExtents"], MutationCodec.Decode(Convert.FromHexString(before)));
    }

    /// <summary>
    /// The bytes a node wrote before <see cref="WriteExtents.AppendedAt"/> existed: the kind's array without its last
    /// field (nil for a write that is no append). Copied structure by structure from the current bytes, so nothing else
    /// differs.
    /// </summary>
    private static byte[] OldEncoding(Mutation m)
    {
        var current = MutationCodec.Encode(m);
        var reader = new MessagePackReader(current);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        var envelope = reader.ReadArrayHeader();
        writer.WriteArrayHeader(envelope);
        Assert.Equal(2, reader.ReadArrayHeader());
        writer.WriteArrayHeader(2);
        writer.Write(reader.ReadInt32());
        Assert.Equal(6, reader.ReadArrayHeader());
        writer.WriteArrayHeader(5);
        for (var i = 0; i < 5; i++) writer.WriteRaw(reader.ReadRaw());
        Assert.True(reader.TryReadNil());
        for (var i = 1; i < envelope; i++) writer.WriteRaw(reader.ReadRaw());
        Assert.True(reader.End);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }
}
