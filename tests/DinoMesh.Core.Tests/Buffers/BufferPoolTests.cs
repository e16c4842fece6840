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
        Assert.All(buffer.Memory.ToArray(), b => Assert.Equal(0xA5, b));
        buffer.Release();
    }

    [Fact]
    public void Whole_chunk_buffers_share_slabs_of_memory_advised_for_huge_pages_and_small_ones_are_arrays()
    {
        var pool = new BufferPool();
        // A fetched chunk's answer (1 MiB and its envelope) and a served chunk (1 MiB) take one capacity: 3 per slab.
        var buffers = Enumerable.Range(0, 4).Select(i => pool.Rent(i % 2 == 0 ? Mib + 8 : Mib, i % 2 == 0 ? 8 : 0)).ToArray();
        var small = pool.Rent(128 * 1024);

        Assert.All(buffers, b => Assert.True(b.OnHugePageSlab));
        Assert.Equal(2, pool.Slabs);
        Assert.False(small.OnHugePageSlab);
        foreach (var b in buffers)
        {
            // madvise(MADV_HUGEPAGE) shows as "hg" in the flags of the mapping the buffer lies in.
            Assert.Contains("hg", VmFlagsOf(b.Memory));
            b.Memory.Span.Fill(7);
        }
        // No two buffers overlap.
        for (int i = 0; i < buffers.Length; i++)
        {
            for (int j = i + 1; j < buffers.Length; j++) Assert.False(buffers[i].Memory.Span.Overlaps(buffers[j].Memory.Span));
        }
        foreach (var b in buffers) b.Release();
        small.Release();
    }

    /// <summary>The VmFlags of the mapping (in /proc/self/smaps) that holds the memory's first byte.</summary>
    private static unsafe string[] VmFlagsOf(Memory<byte> memory)
    {
        using var pin = memory.Pin();
        ulong address = (ulong)pin.Pointer;
        bool inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var dash = line.IndexOf('-');
            var space = line.IndexOf(' ');
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber, null, out var start)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), System.Globalization.NumberStyles.HexNumber, null, out var end))
            {
                inside = address >= start && address < end;
            }
            else if (inside && line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                return line["VmFlags:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }
        }
        return [];
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
