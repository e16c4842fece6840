using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse.Session;

/// <summary>
/// Reply messages for READ laid out so that the data starts on a page boundary, with the out header in the 16 bytes
/// in front of it: the reply is still one contiguous write(2), and a file system that reads with O_DIRECT can read
/// straight into the data part (the kernel wants page-aligned memory for that), so the bytes are copied once in user
/// space at most. Pinned arrays of one size (the largest READ the session negotiated), a bounded number kept: a fresh
/// megabyte costs page faults, which on a virtual machine are host faults as well. Kept buffers are held weakly: a
/// streaming reader hands them back long before a full collection comes, while an idle node's trim (a full,
/// compacting collection) gives their megabytes back instead of keeping them pinned for good.
/// </summary>
internal sealed class ReadReplyBuffers(int dataCapacity, int maxRetained)
{
    public const int PageSize = 4096;

    private readonly int _dataCapacity = RoundUp(Math.Max(dataCapacity, PageSize));

    // One weak reference per place, made once and re-aimed, so handing a buffer back allocates nothing. A few READs
    // are in flight at most, so a lock over a short scan costs less than it would save.
    private readonly WeakReference<ReadReplyBuffer?>[] _kept =
        [.. Enumerable.Range(0, maxRetained).Select(_ => new WeakReference<ReadReplyBuffer?>(null))];

    /// <summary>A buffer whose data part holds at least <paramref name="dataLength"/> bytes (a larger one is not kept).</summary>
    public ReadReplyBuffer Rent(int dataLength)
    {
        if (dataLength > _dataCapacity) return new ReadReplyBuffer(RoundUp(dataLength));
        lock (_kept)
        {
            foreach (var place in _kept)
            {
                if (!place.TryGetTarget(out var buffer) || buffer is null) continue;
                place.SetTarget(null);
                return buffer;
            }
        }
        return new ReadReplyBuffer(_dataCapacity);
    }

    public void Return(ReadReplyBuffer buffer)
    {
        if (buffer.DataCapacity != _dataCapacity) return;
        lock (_kept)
        {
            foreach (var place in _kept)
            {
                if (place.TryGetTarget(out var held) && held is not null) continue;
                place.SetTarget(buffer);
                return;
            }
        }
    }

    /// <summary>Buffers kept and not yet collected (for tests).</summary>
    internal int Kept
    {
        get
        {
            lock (_kept) return _kept.Count(place => place.TryGetTarget(out var buffer) && buffer is not null);
        }
    }

    private static int RoundUp(int length) => checked((length + PageSize - 1) / PageSize * PageSize);
}

/// <summary>One pinned array: <see cref="Wire.OutHeaderSize"/> bytes of header, then page-aligned data.</summary>
internal sealed class ReadReplyBuffer
{
    private readonly byte[] _array;
    private readonly int _dataStart;

    public unsafe ReadReplyBuffer(int dataCapacity)
    {
        DataCapacity = dataCapacity;
        // A page in front: the header goes into the end of the page before the first aligned data byte.
        _array = GC.AllocateUninitializedArray<byte>(dataCapacity + 2 * ReadReplyBuffers.PageSize, pinned: true);
        fixed (byte* p = _array)
        {
            long first = (long)p + Wire.OutHeaderSize;
            _dataStart = Wire.OutHeaderSize + (int)((ReadReplyBuffers.PageSize - first % ReadReplyBuffers.PageSize) % ReadReplyBuffers.PageSize);
        }
    }

    public int DataCapacity { get; }

    /// <summary>Where the file system writes the data; page-aligned, since the array is pinned and never moves.</summary>
    public Memory<byte> Data(int length) => _array.AsMemory(_dataStart, length);

    /// <summary>Header and the first <paramref name="dataLength"/> data bytes, as one message.</summary>
    public Span<byte> Message(int dataLength) => _array.AsSpan(_dataStart - Wire.OutHeaderSize, Wire.OutHeaderSize + dataLength);
}
