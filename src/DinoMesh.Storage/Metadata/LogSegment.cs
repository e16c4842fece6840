namespace DinoMesh.Storage.Metadata;

/// <summary>
/// What the writer and the readers share about one segment file: where it is, which versions it holds, how many of
/// its bytes are committed, and a sparse index of record offsets. Only the writer (under the log's write lock)
/// changes it; readers read it without locks and never look past <see cref="Length"/>, so they never see a record that
/// is still being written or that a failed write is about to cut off again.
/// </summary>
internal sealed class LogSegment
{
    /// <summary>One index entry per this many records: a reader skips at most that many to reach any version.</summary>
    public const int IndexEvery = 256;

    private long _length;
    private long _lastVersion;
    private long[] _offsets = new long[16];
    private int _indexed;

    public LogSegment(string path, long firstVersion)
    {
        Path = path;
        FirstVersion = firstVersion;
        _length = SegmentFormat.HeaderSize;
        _lastVersion = firstVersion - 1;
    }

    public string Path { get; }

    public long FirstVersion { get; }

    /// <summary>Bytes of the file that hold whole, committed records (header included).</summary>
    public long Length => Volatile.Read(ref _length);

    /// <summary>The version of the last committed record; <see cref="FirstVersion"/> - 1 while the segment is empty.</summary>
    public long LastVersion => Volatile.Read(ref _lastVersion);

    public long NextVersion => LastVersion + 1;

    public bool IsEmpty => LastVersion < FirstVersion;

    /// <summary>Every record holds versions at or below <paramref name="floor"/> (an empty segment is never covered: it
    /// starts after the last record).</summary>
    public bool IsCoveredBy(long floor) => FirstVersion <= floor && LastVersion <= floor;

    /// <summary>Notes where a record starts, before <see cref="Publish"/> makes it visible. Writer only.</summary>
    public void Index(long version, long offset)
    {
        long ordinal = version - FirstVersion;
        if (ordinal % IndexEvery != 0 || ordinal / IndexEvery != _indexed) return;
        if (_indexed == _offsets.Length)
        {
            var grown = new long[_offsets.Length * 2];
            _offsets.CopyTo(grown, 0);
            // The new array first, the count after it: a reader that sees the count also sees an array that long.
            Volatile.Write(ref _offsets, grown);
        }
        _offsets[_indexed] = offset;
        Volatile.Write(ref _indexed, _indexed + 1);
    }

    /// <summary>Makes the records written so far visible to readers. Writer only.</summary>
    public void Publish(long length, long lastVersion)
    {
        Volatile.Write(ref _lastVersion, lastVersion);
        Volatile.Write(ref _length, length);
    }

    /// <summary>
    /// Cuts the segment back to <paramref name="length"/> bytes ending at <paramref name="lastVersion"/> (a suffix
    /// truncation), dropping index entries that pointed past it. Writer only.
    /// </summary>
    public void Cut(long length, long lastVersion)
    {
        long keep = lastVersion < FirstVersion ? 0 : (lastVersion - FirstVersion) / IndexEvery + 1;
        if (keep < _indexed) Volatile.Write(ref _indexed, (int)keep);
        Publish(length, lastVersion);
    }

    /// <summary>The indexed record at or before <paramref name="version"/>: where a reader looking for it starts.</summary>
    public (long Version, long Offset) Seek(long version)
    {
        int count = Volatile.Read(ref _indexed);
        var offsets = Volatile.Read(ref _offsets);
        if (count == 0 || version < FirstVersion) return (FirstVersion, SegmentFormat.HeaderSize);
        long slot = Math.Min((version - FirstVersion) / IndexEvery, count - 1);
        return (FirstVersion + slot * IndexEvery, offsets[slot]);
    }
}
