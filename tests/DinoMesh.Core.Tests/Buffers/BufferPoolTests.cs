using DinoMesh.Core.Buffers;

namespace DinoMesh.Core.Tests.Buffers;

/// <summary>
/// A buffer can be lent so that a chosen byte, not the first, starts a page: a payload received behind a header of
/// known length (a fetched chunk behind its answer's envelope) is then ready for an O_DIRECT write where it landed.
/// </summary>
public sealed class BufferPoolTests
{
    private const int Mib = 1 << 20;

    private static unsafe long PageOffsetOf(Memory<byte> memory, int index)
    {
        using var pin = memory.Pin();
        return ((nint)pin.Pointer + index) % BufferPool.Alignment;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(6)]
    [InlineData(BufferPool.Alignment - 1)]
    public void The_byte_asked_for_starts_a_page_and_every_lent_byte_is_usable(int alignedAt)
    {
        var pool = new BufferPool();
        var buffer = pool.Rent(Mib + alignedAt, alignedAt);

        Assert.Equal(Mib + alignedAt, buffer.Memory.Length);
        Assert.Equal(0, PageOffsetOf(buffer.Memory, alignedAt));
        // The whole length is there to be written, up to its last byte, inside the buffer's own memory.
        buffer.Memory.Span.Fill(0xA5);
        Assert.Equal(buffer.Memory.ToArray(), buffer.Segment.ToArray());
        buffer.Release();
    }

    [Fact]
    public void A_buffer_lent_again_is_aligned_for_its_new_lending_not_its_old_one()
    {
        var pool = new BufferPool();
        var first = pool.Rent(Mib + 8, 8);
        first.Release();

        var second = pool.Rent(Mib);
        Assert.Same(first, second);
        Assert.Equal(0, PageOffsetOf(second.Memory, 0));
        second.Release();

        var third = pool.Rent(Mib + 5, 5);
        Assert.Same(first, third);
        Assert.Equal(0, PageOffsetOf(third.Memory, 5));
        third.Release();
    }

    [Fact]
    public void An_alignment_outside_a_page_is_refused()
    {
        var pool = new BufferPool();
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(Mib, BufferPool.Alignment));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(Mib, -1));
    }
}
