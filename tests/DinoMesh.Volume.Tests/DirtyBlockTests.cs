namespace DinoMesh.Volume.Tests;

/// <summary>
/// A dirty block lends the range from its start to the replicator as it lies, with free room in front for the put's
/// envelope; the array outlives the block while the borrower holds it.
/// </summary>
public sealed class DirtyBlockTests
{
    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void The_range_from_the_start_is_lent_with_room_in_front_and_the_array_outlives_the_block_while_borrowed()
    {
        var block = new DirtyBlock(0, 1 << 20);
        var first = Bytes(100_000, 1);
        var second = Bytes(1_000_000 - 100_000, 2);
        // Two writes that grow the buffer (64 KiB, then past 128 KiB up to 1 MiB): the bytes move with it.
        block.Write(0, first);
        block.Write(first.Length, second);

        var lent = Assert.NotNull(block.Lend(0, 1_000_000));
        Assert.True(lent.Offset >= 42, "room for a put's envelope (42 bytes for a chunk past 64 KiB)");
        Assert.Equal([.. first, .. second], lent.Span.ToArray());

        lent.Owner.Retain();
        block.Dispose();
        Assert.Equal(1, lent.Owner.References);
        Assert.Equal([.. first, .. second], lent.Span.ToArray());
        lent.Owner.Release();
        Assert.Equal(0, lent.Owner.References);
    }

    [Fact]
    public void A_range_that_does_not_start_the_block_is_not_lent_since_the_bytes_in_front_are_the_block_s_own()
    {
        var block = new DirtyBlock(0, 1 << 20);
        block.Write(0, Bytes(1_000, 1));
        block.Write(300_000, Bytes(400_000, 2));

        Assert.Null(block.Lend(300_000, 700_000));
        Assert.NotNull(block.Lend(0, 1_000));
        block.Dispose();
        Assert.Null(block.Lend(0, 1_000));
    }

    [Fact]
    public void The_room_in_front_is_taken_from_a_power_of_two_so_a_small_file_does_not_take_a_twice_as_large_array()
    {
        var block = new DirtyBlock(0, 1 << 20);
        block.Write(0, Bytes(4096, 1));
        var lent = Assert.NotNull(block.Lend(0, 4096));
        Assert.Equal(64 * 1024, lent.Owner.Array.Length);

        // Up to the power of two less the room it stays there; one byte more and it grows.
        block.Write(4096, Bytes(64 * 1024 - DirtyBlock.Room - 4096, 2));
        Assert.Equal(64 * 1024, Assert.NotNull(block.Lend(0, 64 * 1024 - DirtyBlock.Room)).Owner.Array.Length);
        block.Write(64 * 1024 - DirtyBlock.Room, Bytes(1, 3));
        Assert.Equal(128 * 1024, Assert.NotNull(block.Lend(0, 64 * 1024 - DirtyBlock.Room + 1)).Owner.Array.Length);
        block.Dispose();
    }
}
