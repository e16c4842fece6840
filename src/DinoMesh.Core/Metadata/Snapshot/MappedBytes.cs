using System.Buffers;
using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// A range of a file, memory-mapped read-only and offered as a <see cref="ReadOnlySequence{T}"/> of segments under
/// 1 GiB each: a snapshot of several GiB is decoded and copied from the page cache, never read into one array (an array
/// stops at 2 GiB, and a second copy of the whole would double the memory a large tree needs). The bytes are valid
/// until <see cref="Dispose"/>; whoever decodes them copies what it keeps. Files mapped here are never written in place
/// (they are written under a temp name and renamed, or are a transfer's finished temp file), so the view cannot change
/// under a reader; an unlink or a rename over the name leaves the mapping whole.
/// </summary>
public sealed unsafe class MappedBytes : IDisposable
{
    /// <summary>256 MiB: few segments (a read that straddles two is copied), and far from the int limit of one.</summary>
    public const int DefaultSegmentSize = 256 << 20;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private bool _disposed;

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="file"/> from <paramref name="offset"/>; the handle stays the caller's.</summary>
    public MappedBytes(SafeFileHandle file, long offset, long length)
        : this(file, offset, length, DefaultSegmentSize)
    {
    }

    /// <summary>Tests: a small <paramref name="segmentSize"/> makes a small file span many segments.</summary>
    internal MappedBytes(SafeFileHandle file, long offset, long length, int segmentSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(segmentSize);
        Length = length;
        // An empty range maps nothing (a mapping of zero bytes is refused).
        if (length == 0) return;
        var fileLength = RandomAccess.GetLength(file);
        if (offset + length > fileLength) throw new IOException($"the file has {fileLength} bytes, not {offset + length}");
        _map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
        try
        {
            _view = _map.CreateViewAccessor(offset, length, MemoryMappedFileAccess.Read);
            byte* start = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            Bytes = Segments(start + _view.PointerOffset, length, segmentSize);
        }
        catch
        {
            _view?.Dispose();
            _map.Dispose();
            throw;
        }
    }

    public long Length { get; }

    /// <summary>The mapped bytes; not to be touched after <see cref="Dispose"/>.</summary>
    public ReadOnlySequence<byte> Bytes { get; } = ReadOnlySequence<byte>.Empty;

    private static ReadOnlySequence<byte> Segments(byte* start, long length, int segmentSize)
    {
        Segment? first = null, last = null;
        for (long at = 0; at < length; at += segmentSize)
        {
            var size = (int)Math.Min(segmentSize, length - at);
            var segment = new Segment(new PointerMemory(start + at, size).Memory, at);
            if (last is null) first = segment;
            else last.Next = segment;
            last = segment;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public new Segment? Next
        {
            get => (Segment?)base.Next;
            set => base.Next = value;
        }
    }

    /// <summary>A piece of the mapping as <see cref="Memory{T}"/>; the mapping, not this, owns the pages.</summary>
    private sealed class PointerMemory(byte* pointer, int length) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => new(pointer, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
