using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using FsCheck;
using FsCheck.Fluent;

namespace DinoMesh.Core.Tests.Extents;

/// <summary>
/// Random writes and truncates on an <see cref="ExtentMap"/> read back the same bytes as the same operations on a
/// plain byte array. Chunks are modelled as a dictionary from id to content.
/// </summary>
public class ExtentMapProperties
{
    /// <summary>Write <paramref name="Length"/> bytes of <paramref name="Chunk"/> from <paramref name="ChunkOffset"/> at <paramref name="Offset"/>; or truncate to <paramref name="Offset"/> when Chunk is null.</summary>
    public sealed record Op(long Offset, byte[]? Chunk, long ChunkOffset, long Length)
    {
        public override string ToString() =>
            Chunk is null ? $"truncate({Offset})" : $"write(at {Offset}, {Length} bytes of a {Chunk.Length}-byte chunk from {ChunkOffset})";
    }

    private static readonly Gen<Op> WriteGen =
        from offset in Gen.Choose(0, 63)
        from chunkLength in Gen.Choose(1, 20)
        from chunkOffset in Gen.Choose(0, chunkLength - 1)
        from length in Gen.Choose(1, chunkLength - chunkOffset)
        from fill in Gen.Choose(1, 250)
        select new Op(offset, [.. Enumerable.Range(0, chunkLength).Select(i => (byte)(fill + i))], chunkOffset, length);

    private static readonly Gen<Op> TruncateGen = Gen.Choose(0, 90).Select(size => new Op(size, null, 0, 0));

    private static readonly Arbitrary<Op[]> Ops = Arb.From(
        from count in Gen.Choose(0, 40)
        from ops in Gen.ArrayOf(Gen.Frequency((4, WriteGen), (1, TruncateGen)), count)
        select ops,
        ops => Enumerable.Range(0, ops.Length).Select(i => ops.Where((_, j) => j != i).ToArray()));

    [Fact]
    public void Map_reads_like_a_byte_array() =>
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500).WithQuietOnSuccess(true), Prop.ForAll(Ops, (Action<Op[]>)Run));

    private static void Run(Op[] ops)
    {
        var chunks = new Dictionary<ChunkId, byte[]>();
        var map = ExtentMap.Empty;
        var file = new List<byte>();
        var allocated = new List<bool>();
        foreach (var op in ops)
        {
            if (op.Chunk is { } chunk)
            {
                var id = ChunkId.Of(chunk);
                chunks[id] = chunk;
                map = map.Write(new Extent(op.Offset, op.Length, id, op.ChunkOffset));
                var end = (int)(op.Offset + op.Length);
                while (file.Count < end) { file.Add(0); allocated.Add(false); }
                for (var i = 0; i < op.Length; i++)
                {
                    file[(int)op.Offset + i] = chunk[op.ChunkOffset + i];
                    allocated[(int)op.Offset + i] = true;
                }
            }
            else
            {
                map = map.Truncate(op.Offset);
                var size = (int)op.Offset;
                if (size < file.Count) { file.RemoveRange(size, file.Count - size); allocated.RemoveRange(size, allocated.Count - size); }
                while (file.Count < size) { file.Add(0); allocated.Add(false); }
            }
            Verify(map, chunks, file, allocated);
        }
    }

    private static void Verify(ExtentMap map, Dictionary<ChunkId, byte[]> chunks, List<byte> file, List<bool> allocated)
    {
        var extents = map.ToArray();
        for (var i = 0; i < extents.Length; i++)
        {
            Assert.True(extents[i].Length > 0, "empty extent kept");
            if (i > 0) Assert.True(extents[i - 1].End <= extents[i].Offset, "extents out of order or overlapping");
        }
        Assert.Equal(extents.Sum(e => e.Length), map.AllocatedBytes);
        Assert.Equal(allocated.Count(a => a), map.AllocatedBytes);

        // Reading: every byte from its chunk, holes as zeros.
        var read = new byte[file.Count];
        foreach (var e in map.Overlapping(0, file.Count))
        {
            chunks[e.Chunk].AsSpan((int)e.ChunkOffset, (int)e.Length).CopyTo(read.AsSpan((int)e.Offset));
        }
        Assert.Equal(file.ToArray(), read);
        Assert.Empty(map.Overlapping(file.Count, long.MaxValue));

        // A window read agrees too.
        if (file.Count > 4)
        {
            var (from, to) = (file.Count / 4, file.Count * 3 / 4);
            var window = new byte[to - from];
            foreach (var e in map.Overlapping(from, to))
            {
                Assert.True(e.Offset >= from && e.End <= to);
                chunks[e.Chunk].AsSpan((int)e.ChunkOffset, (int)e.Length).CopyTo(window.AsSpan((int)(e.Offset - from)));
            }
            Assert.Equal(file.GetRange(from, to - from).ToArray(), window);
        }

        // SEEK_DATA / SEEK_HOLE against the allocation bitmap.
        for (var offset = 0; offset <= file.Count; offset++)
        {
            var data = allocated.FindIndex(offset, a => a);
            Assert.Equal((long)data, map.NextData(offset));
            var hole = offset == file.Count ? file.Count : allocated.FindIndex(offset, a => !a);
            Assert.Equal(hole < 0 ? file.Count : hole, map.NextHole(offset, file.Count));
        }
    }
}
