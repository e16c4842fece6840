using DinoMesh.Core.Chunks;

namespace DinoMesh.Core.Tests.Chunks;

/// <summary>
/// <see cref="VerifiedChunk.Arriving"/>: a chunk hashed piece by piece as it lands is verified only when every byte of
/// exactly the memory it watched arrived and hashes to the id.
/// </summary>
public class ArrivingChunkTests
{
    private const int Mib = 1 << 20;

    private static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Reports <paramref name="bytes"/> as arrived in uneven pieces (as TLS records and receives come), overlaps and repeats included.</summary>
    private static void ArriveInPieces(VerifiedChunk.Arriving arriving, int length)
    {
        var at = 0;
        var sizes = new[] { 1, 16_384, 7, 65_536, 16_401, 0 };
        for (var i = 0; at < length; i++)
        {
            at = Math.Min(length, at + sizes[i % sizes.Length]);
            arriving.ArrivedUpTo(at);
            arriving.ArrivedUpTo(at - 1 < 0 ? 0 : at - 1);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(100_000)]
    [InlineData(Mib)]
    public void Bytes_hashed_as_they_arrive_verify_over_exactly_the_memory_they_arrived_in(int length)
    {
        var buffer = new byte[length + 10];
        var bytes = buffer.AsMemory(5, length);
        Random(length, 1).CopyTo(bytes);
        var id = ChunkId.Of(bytes.Span);
        using var arriving = new VerifiedChunk.Arriving(id, bytes);

        ArriveInPieces(arriving, length);

        Assert.Equal(length, arriving.Hashed);
        Assert.True(arriving.TryFinish(bytes, out var chunk));
        Assert.Equal(id, chunk.Value.Id);
        Assert.True(chunk.Value.Bytes.Equals(bytes));
        // It answers once.
        Assert.False(arriving.TryFinish(bytes, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16_383)]
    [InlineData(Mib / 2)]
    [InlineData(Mib - 1)]
    public void A_damaged_byte_anywhere_does_not_verify(int damaged)
    {
        var bytes = Random(Mib, 2);
        var id = ChunkId.Of(bytes);
        bytes[damaged] ^= 0x40;
        using var arriving = new VerifiedChunk.Arriving(id, bytes);

        ArriveInPieces(arriving, bytes.Length);

        Assert.False(arriving.TryFinish(bytes, out var chunk));
        Assert.Null(chunk);
    }

    [Fact]
    public void A_chunk_not_wholly_arrived_does_not_verify()
    {
        var bytes = Random(Mib, 3);
        using var arriving = new VerifiedChunk.Arriving(ChunkId.Of(bytes), bytes);

        arriving.ArrivedUpTo(Mib - 1);

        Assert.False(arriving.TryFinish(bytes, out _));
    }

    [Fact]
    public void The_same_bytes_in_other_memory_or_a_slice_of_it_do_not_pass_for_what_was_hashed()
    {
        var bytes = Random(70_000, 4);
        var id = ChunkId.Of(bytes);
        using var arriving = new VerifiedChunk.Arriving(id, bytes);
        ArriveInPieces(arriving, bytes.Length);

        // A copy could differ from what was hashed by the time it is read; so could a longer or shorter range.
        Assert.False(arriving.TryFinish(bytes.ToArray(), out _));
        Assert.False(arriving.TryFinish(bytes.AsMemory(1), out _));
        Assert.False(arriving.TryFinish(bytes.AsMemory(0, bytes.Length - 1), out _));
        Assert.True(arriving.TryFinish(bytes, out _));
    }

    [Fact]
    public void A_count_beyond_the_chunk_is_refused()
    {
        var bytes = Random(1000, 5);
        using var arriving = new VerifiedChunk.Arriving(ChunkId.Of(bytes), bytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => arriving.ArrivedUpTo(1001));
    }
}
