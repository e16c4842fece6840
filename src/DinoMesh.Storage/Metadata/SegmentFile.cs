using System.Runtime.InteropServices;
using DinoMesh.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The writable handle on the newest segment. Appends go to the end of the committed bytes with one positioned write;
/// a write that fails is cut off again, so the file never keeps half a record that a later append would bury.
/// Used only under the log's write lock.
/// </summary>
internal sealed class SegmentFile : IDisposable
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>How much is appended between two nudges of the kernel's writeback (see <see cref="StartWriteback"/>).</summary>
    private const long WritebackEvery = 1 << 20;

    private readonly SafeFileHandle _file;

    /// <summary>Where the last <see cref="StartWriteback"/> ended.</summary>
    private long _writebackFrom;

    /// <summary>A failed write whose cut-off failed too: the bytes past <see cref="LogSegment.Length"/> are garbage.</summary>
    private bool _tailDirty;

    private readonly SegmentRoom _room;

    private SegmentFile(LogSegment segment, SafeFileHandle file, SegmentRoom room)
    {
        Segment = segment;
        _file = file;
        _room = room;
        _writebackFrom = segment.Length;
    }

    public LogSegment Segment { get; }

    /// <summary>Reopens an existing segment (after the scan at open) for appending, keeping <paramref name="reserve"/> bytes of room.</summary>
    public static SegmentFile Open(LogSegment segment, long reserve)
    {
        var file = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        return new SegmentFile(segment, file, new SegmentRoom(file, segment.Path, segment.Length, reserve));
    }

    /// <summary>
    /// Creates the segment whose first record will be <paramref name="firstVersion"/>: the header is written and the file
    /// and its directory are fsynced before any record goes in, so after a power cut a segment either exists with a
    /// valid header or is an empty leftover the scan deletes. The reserve (see <see cref="SegmentRoom"/>) is allocated
    /// first: on a full disk no segment is created (<see cref="LogFullException"/>) and the log goes on in the old one.
    /// </summary>
    public static SegmentFile Create(string directory, long firstVersion, long reserve)
    {
        string path = System.IO.Path.Combine(directory, SegmentFormat.FileName(firstVersion));
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (IOException e)
        {
            throw Translate(e, path);
        }
        try
        {
            File.SetUnixFileMode(file, OwnerReadWrite);
            var room = new SegmentRoom(file, path, 0, reserve);
            room.AllocateInitial();
            Span<byte> header = stackalloc byte[SegmentFormat.HeaderSize];
            SegmentFormat.WriteHeader(header, firstVersion);
            RandomAccess.Write(file, header, 0);
            RandomAccess.FlushToDisk(file);
            Durability.FsyncDirectory(directory);
            return new SegmentFile(new LogSegment(path, firstVersion), file, room);
        }
        catch (IOException e)
        {
            file.Dispose();
            TryDelete(path);
            throw Translate(e, path);
        }
    }

    /// <summary>
    /// Writes whole records at the end of the committed bytes. On failure the file is cut back to where it was (best
    /// effort; retried before the next write) and the error is a <see cref="LogFullException"/> for a full disk, else
    /// the <see cref="IOException"/>. The caller publishes the records only after this returns. Only an append that
    /// <paramref name="mayUseReserve"/> (one that lets the user free space) may go into the reserve on a full disk.
    /// </summary>
    public void Write(ReadOnlySpan<byte> records, bool mayUseReserve = false)
    {
        long tail = Segment.Length;
        if (_tailDirty)
        {
            Cut(tail);
            if (_tailDirty) throw new IOException($"metadata log {Segment.Path}: cannot cut off the bytes of an earlier failed write");
        }
        _room.Ensure(tail, records.Length, mayUseReserve);
        try
        {
            RandomAccess.Write(_file, records, tail);
        }
        catch (IOException e)
        {
            _tailDirty = true;
            Cut(tail);
            throw Translate(e, Segment.Path);
        }
        if (tail + records.Length - _writebackFrom >= WritebackEvery) StartWriteback(tail + records.Length);
    }

    /// <summary>
    /// Asks the kernel to start writing the pages appended since the last call, without waiting. Without it a full
    /// 64 MiB segment is still mostly dirty when the log moves past it, and that fdatasync stalls one append for tens
    /// of milliseconds; with it the fdatasync finds little left to do. (This does not order anything: the kernel
    /// would write these pages back on its own within seconds anyway.) A hint only: errors are ignored, the fdatasync
    /// reports them.
    /// </summary>
    private void StartWriteback(long upTo)
    {
        bool added = false;
        try
        {
            _file.DangerousAddRef(ref added);
            _ = LibC.SyncFileRange((int)_file.DangerousGetHandle(), _writebackFrom, upTo - _writebackFrom, LibC.SYNC_FILE_RANGE_WRITE);
            _writebackFrom = upTo;
        }
        finally
        {
            if (added) _file.DangerousRelease();
        }
    }

    /// <summary>fdatasync: the records become durable against power loss (the file size is data here, and is synced too).</summary>
    public void DataSync()
    {
        if (Durability.DataSync(_file) is var errno and not 0)
            throw Translate(new IOException($"metadata log {Segment.Path}: fdatasync failed: {LibC.Describe(errno)}", errno), Segment.Path);
    }

    private void Cut(long length)
    {
        try
        {
            RandomAccess.SetLength(_file, length);
            _tailDirty = false;
            _room.CutTo(length);
        }
        catch (IOException)
        {
            // Stays dirty: the next write tries again first, and refuses to append behind garbage.
        }
    }

    /// <summary>On Unix .NET puts the errno into HResult; the message check covers wrappers that do not.</summary>
    public static bool IsNoSpace(IOException e) =>
        e.HResult is LibC.ENOSPC or LibC.EDQUOT || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase);

    /// <summary>A full disk becomes <see cref="LogFullException"/> naming <paramref name="file"/>, the file that could not be written.</summary>
    public static IOException Translate(IOException e, string file) =>
        e is LogFullException ? e : IsNoSpace(e) ? new LogFullException($"metadata log {file}: no space left on device", e) : e;

    /// <summary>Deletes the file if it can; a failure is left for the scan at open.</summary>
    public static void TryDelete(string path) => TryDelete(path, out _);

    /// <summary>Deletes the file; false (and why) when it could not. A file already gone counts as deleted.</summary>
    public static bool TryDelete(string path, out Exception? error)
    {
        try
        {
            File.Delete(path);
            error = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover segment is harmless: the scan at open deletes what the floor covers, and an empty one.
            error = e;
            return false;
        }
    }

    /// <summary>The log moved on to a newer segment: the room allocated past this one's records is given back.</summary>
    public void ReleaseRoom() => _room.Release(Segment.Length);

    /// <summary>Makes sure <paramref name="size"/> more bytes fit (see <see cref="SegmentRoom.Ensure"/>); throws when they do not.</summary>
    public void EnsureRoom(long size, bool mayUseReserve) => _room.Ensure(Segment.Length, size, mayUseReserve);

    /// <summary>Cuts the file back to <paramref name="length"/> bytes: a suffix truncation of the log.</summary>
    public void CutBack(long length)
    {
        Cut(length);
        if (_tailDirty) throw new IOException($"metadata log {Segment.Path}: cannot cut back to {length} bytes");
        _writebackFrom = Math.Min(_writebackFrom, length);
    }

    public void Dispose() => _file.Dispose();
}
