using System.Buffers;
using System.Runtime.InteropServices;

namespace DinoMesh.Core.Buffers;

/// <summary>
/// Four megabytes of anonymous memory on two 2 MiB boundaries, advised for transparent huge pages, carved by
/// <see cref="BufferPool"/> into buffers for whole chunks (<see cref="Region"/>).
/// <para>Why: a chunk is read from disk (a served one) or written to disk (a fetched one) with O_DIRECT straight from
/// its pooled buffer. Over 4 KiB pages the kernel pins 256 pages per megabyte for each such call, and the block layer
/// makes one segment per physically contiguous run, so a megabyte is 256 segments: more than the 254 this project's
/// virtio disk takes per request, and every chunk went to the disk as two requests. On huge pages a chunk is one or two
/// runs, pinned as one or two folios, one request (the same reason READ replies live on huge pages, docs/architecture.md).
/// Several buffers share a slab, so a chunk buffer costs about a third more memory than its length, not double.</para>
/// <para>The mapping is released (unmapped) when the slab is collected: every region refers to it, and every
/// <see cref="Memory{T}"/> over a region refers to the region, so that happens only once no buffer of the slab is
/// reachable any more. Without transparent huge pages the advice does nothing and the memory is plain pages.</para>
/// </summary>
internal sealed partial class HugePageSlab : SafeHandle
{
    public const int HugePage = 2 * 1024 * 1024;

    public const int Size = 2 * HugePage;

    public HugePageSlab() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>A new slab, or null when the memory cannot be mapped (the pool then uses arrays).</summary>
    public static HugePageSlab? TryMap()
    {
        // A huge page more than needed, so that a 2 MiB boundary with the slab's size behind it falls inside.
        const nuint mapped = Size + HugePage;
        nint start = Mmap(0, mapped, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (start == -1) return null;
        nint aligned = (start + HugePage - 1) / HugePage * HugePage;
        if (aligned > start) Munmap(start, (nuint)(aligned - start));
        nint end = start + (nint)mapped, kept = aligned + Size;
        if (end > kept) Munmap(kept, (nuint)(end - kept));
        // Only advice: without it (or without transparent huge pages) the slab is plain 4 KiB pages.
        Madvise(aligned, Size, MadvHugePage);
        var slab = new HugePageSlab();
        slab.SetHandle(aligned);
        return slab;
    }

    /// <summary>The memory of buffer <paramref name="index"/> of <paramref name="capacity"/> bytes each (page-aligned when the capacity is whole pages).</summary>
    public Region Carve(int index, int capacity)
    {
        if ((long)(index + 1) * capacity > Size) throw new ArgumentOutOfRangeException(nameof(index), $"buffer {index} of {capacity} bytes is past the slab");
        return new Region(this, handle + (nint)index * capacity, capacity);
    }

    protected override bool ReleaseHandle() => Munmap(handle, Size) == 0;

    /// <summary>One buffer's stretch of a slab, as memory; it keeps the slab mapped while it is reachable.</summary>
    internal sealed class Region(HugePageSlab slab, nint address, int length) : MemoryManager<byte>
    {
        // Held only so the slab (and its mapping) lives as long as any region of it.
        private readonly HugePageSlab _slab = slab;

        public nint Address => address;

        public override unsafe Span<byte> GetSpan()
        {
            ObjectDisposedException.ThrowIf(_slab.IsClosed, this);
            return new Span<byte>((void*)address, length);
        }

        public override unsafe MemoryHandle Pin(int elementIndex = 0)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, length);
            return new MemoryHandle((byte*)address + elementIndex);
        }

        public override void Unpin()
        {
        }

        // Nothing of its own to free: the slab's mapping goes when the slab does.
        protected override void Dispose(bool disposing)
        {
        }
    }

    private const int ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20, MadvHugePage = 14;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
