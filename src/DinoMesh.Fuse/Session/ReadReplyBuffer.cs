using System.Buffers;
using System.Runtime.InteropServices;
using DinoMesh.Fuse.Interop;
using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse.Session;

/// <summary>
/// One READ reply in memory of its own: <see cref="Wire.OutHeaderSize"/> bytes of header at the end of a small page,
/// then the data, starting on a 2 MiB boundary in memory the kernel is asked to back with huge pages.
/// <para>Why not a pinned array: a file system that reads with O_DIRECT into the data part makes the block layer build
/// one segment per physically contiguous run of the buffer, and a disk takes at most so many segments per request
/// (254 on this project's virtio disk). A megabyte of scattered 4 KiB pages is 256 segments, so every 1 MiB chunk read
/// went to the disk as two requests, 1016 KiB and 8 KiB, the second often sent again later by the block layer's worker
/// (seen with the block_rq_issue trace point). On a huge page the megabyte is one segment and one request.</para>
/// <para>The mapping is held by a <see cref="SafeHandle"/> that only this object refers to: it is unmapped when the object is
/// disposed or collected. A <see cref="Memory{T}"/> over the data holds this manager, so it keeps the mapping; a
/// <see cref="Span{T}"/> does not, so whoever uses one keeps the buffer itself reachable meanwhile (the READ handler
/// holds it until it has handed it back).</para>
/// </summary>
internal sealed class ReadReplyBuffer : MemoryManager<byte>
{
    public const int HugePage = 2 * 1024 * 1024;

    private readonly Mapping _mapping;
    private readonly nint _data;

    public ReadReplyBuffer(int dataCapacity)
    {
        DataCapacity = dataCapacity;
        nuint rounded = RoundUp((nuint)Math.Max(dataCapacity, ReadReplyBuffers.PageSize), HugePage);
        // A huge page's worth more than needed so that a 2 MiB boundary with a small page before it falls inside.
        nuint length = rounded + HugePage;
        nint start = LibC.Mmap(0, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
        if (start == -1)
            throw new OutOfMemoryException($"mmap of {length} bytes for a READ reply failed: errno {Marshal.GetLastPInvokeError()}");
        _data = (nint)RoundUp((nuint)start + ReadReplyBuffers.PageSize, HugePage);
        // Give back the slack on both sides: what stays is the header's page and the data's huge pages.
        nint first = _data - ReadReplyBuffers.PageSize;
        nuint keptLength = ReadReplyBuffers.PageSize + rounded;
        if (first > start) LibC.Munmap(start, (nuint)(first - start));
        nint end = start + (nint)length, kept = first + (nint)keptLength;
        if (end > kept) LibC.Munmap(kept, (nuint)(end - kept));
        _mapping = new Mapping(first, keptLength);
        // Only advice: without transparent huge pages the data is in small pages and reads may split, nothing worse.
        LibC.Madvise(_data, rounded, LibC.MADV_HUGEPAGE);
    }

    public int DataCapacity { get; }

    /// <summary>Where the file system writes the data: 2 MiB-aligned, stable (native memory never moves).</summary>
    public Memory<byte> Data(int length) => Memory[..length];

    /// <summary>Header and the first <paramref name="dataLength"/> data bytes, as one message.</summary>
    public unsafe Span<byte> Message(int dataLength)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dataLength, DataCapacity);
        ObjectDisposedException.ThrowIf(_mapping.IsClosed, this);
        return new Span<byte>((byte*)(_data - Wire.OutHeaderSize), Wire.OutHeaderSize + dataLength);
    }

    public override unsafe Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_mapping.IsClosed, this);
        return new Span<byte>((byte*)_data, DataCapacity);
    }

    public override unsafe MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, DataCapacity);
        return new MemoryHandle((byte*)_data + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _mapping.Dispose();
    }

    /// <summary>The mapping of one buffer; its release (dispose or finalizer) unmaps it.</summary>
    private sealed class Mapping : SafeHandle
    {
        private readonly nuint _length;

        public Mapping(nint address, nuint length) : base(0, ownsHandle: true)
        {
            _length = length;
            SetHandle(address);
        }

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle() => LibC.Munmap(handle, _length) == 0;
    }

    private static nuint RoundUp(nuint value, nuint multiple) => (value + multiple - 1) / multiple * multiple;
}
