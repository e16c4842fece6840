namespace DinoMesh.Storage.Chunks;

/// <summary>
/// Reusable page-aligned buffers for O_DIRECT chunk reads (the kernel wants the memory, the offset and the length
/// aligned to the device's block size; a page covers every block size Linux uses). Pinned managed arrays, not native
/// memory: a store that is dropped takes its buffers with it. Reused rather than allocated per read: a fresh megabyte
/// costs page faults, which on this kind of virtual machine are host faults too (docs/benchmarks.md).
/// </summary>
internal sealed class AlignedBuffers
{
    public const int Alignment = 4096;
    private const int MinimumSize = 64 * 1024;
    private const int KeptPerSize = 8;

    private readonly Lock _gate = new();
    private readonly Dictionary<int, Stack<AlignedBuffer>> _free = [];

    /// <summary>A buffer of at least <paramref name="length"/> bytes rounded up to <see cref="Alignment"/>.</summary>
    public AlignedBuffer Rent(int length)
    {
        int size = Math.Max(MinimumSize, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)length));
        lock (_gate)
        {
            if (_free.TryGetValue(size, out var stack) && stack.TryPop(out var kept)) return kept;
        }
        return new AlignedBuffer(size);
    }

    public void Return(AlignedBuffer buffer)
    {
        lock (_gate)
        {
            if (!_free.TryGetValue(buffer.Capacity, out var stack)) _free[buffer.Capacity] = stack = new Stack<AlignedBuffer>();
            if (stack.Count < KeptPerSize) stack.Push(buffer);
        }
    }
}

/// <summary>A page-aligned window of <see cref="Capacity"/> bytes inside a pinned array.</summary>
internal sealed class AlignedBuffer
{
    private readonly byte[] _array;
    private readonly int _start;

    public unsafe AlignedBuffer(int capacity)
    {
        Capacity = capacity;
        _array = GC.AllocateUninitializedArray<byte>(capacity + AlignedBuffers.Alignment, pinned: true);
        fixed (byte* p = _array)
        {
            _start = (int)((AlignedBuffers.Alignment - (long)p % AlignedBuffers.Alignment) % AlignedBuffers.Alignment);
        }
    }

    public int Capacity { get; }

    /// <summary>The first <paramref name="length"/> bytes; aligned, since the array is pinned and never moves.</summary>
    public Span<byte> Span(int length) => _array.AsSpan(_start, length);
}
