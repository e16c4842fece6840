using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Metadata;

/// <summary>What <see cref="SegmentCursor.Next"/> found at the cursor's position.</summary>
internal enum RecordStatus
{
    /// <summary>A whole record whose CRC matches; the cursor moved past it.</summary>
    Ok,

    /// <summary>Nothing left before the limit.</summary>
    End,

    /// <summary>The bytes before the limit end inside the record header or the payload it announces.</summary>
    Incomplete,

    /// <summary>A record that fits before the limit but whose CRC does not match.</summary>
    Corrupt,
}

/// <summary>
/// Reads the records of one segment file in order, through a buffer, never past the limit the caller gives (the
/// committed length for readers, the file's length for the scan at open). Does not own the segment's bookkeeping.
/// </summary>
internal sealed class SegmentCursor : IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly bool _ownsFile;
    private byte[] _buffer;
    private long _bufferOffset;
    private int _filled;
    private int _recordStart, _recordLength;

    public SegmentCursor(SafeFileHandle file, long position, int bufferSize, bool ownsFile)
    {
        _file = file;
        _ownsFile = ownsFile;
        _buffer = new byte[bufferSize];
        _bufferOffset = position;
        Position = position;
    }

    /// <summary>File offset of the next record (after <see cref="RecordStatus.Ok"/>: just past the record read).</summary>
    public long Position { get; private set; }

    /// <summary>Offset of the record last returned or refused.</summary>
    public long RecordOffset { get; private set; }

    /// <summary>The header fields at <see cref="RecordOffset"/>; valid after Ok and Corrupt, and after Incomplete when <see cref="HeaderRead"/>.</summary>
    public long Version { get; private set; }

    public long Term { get; private set; }

    /// <summary>Where the record at <see cref="RecordOffset"/> would end according to its header.</summary>
    public long DeclaredEnd { get; private set; }

    public bool HeaderRead { get; private set; }

    /// <summary>The payload of the last Ok record; valid until the next call.</summary>
    public ReadOnlySpan<byte> Payload => _buffer.AsSpan(_recordStart + SegmentFormat.RecordHeaderSize, _recordLength - SegmentFormat.RecordHeaderSize);

    /// <summary>Opens its own read-only handle on the file; null when the file is gone (deleted under the reader).</summary>
    public static SegmentCursor? TryOpen(string path, long position, int bufferSize)
    {
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        return new SegmentCursor(file, position, bufferSize, ownsFile: true);
    }

    public RecordStatus Next(long limit)
    {
        RecordOffset = Position;
        HeaderRead = false;
        long available = limit - Position;
        if (available <= 0) return RecordStatus.End;
        if (available < SegmentFormat.RecordHeaderSize || !Fill(SegmentFormat.RecordHeaderSize, limit)) return RecordStatus.Incomplete;

        var header = _buffer.AsSpan((int)(Position - _bufferOffset), SegmentFormat.RecordHeaderSize);
        int payloadLength = SegmentFormat.PayloadLength(header);
        Version = SegmentFormat.Version(header);
        Term = SegmentFormat.Term(header);
        DeclaredEnd = Position + SegmentFormat.RecordHeaderSize + (long)payloadLength;
        HeaderRead = true;
        if (DeclaredEnd > limit || !Fill(SegmentFormat.RecordSize(payloadLength), limit)) return RecordStatus.Incomplete;

        _recordStart = (int)(Position - _bufferOffset);
        _recordLength = SegmentFormat.RecordSize(payloadLength);
        if (!SegmentFormat.ChecksumMatches(_buffer.AsSpan(_recordStart, _recordLength))) return RecordStatus.Corrupt;
        Position += _recordLength;
        return RecordStatus.Ok;
    }

    /// <summary>Makes the buffer hold <paramref name="count"/> bytes from <see cref="Position"/>; false when the file ends first.</summary>
    private bool Fill(int count, long limit)
    {
        int start = (int)(Position - _bufferOffset);
        if (start + count <= _filled) return true;

        // Keep only the unread bytes, at the front, in a buffer big enough for the whole record.
        int kept = _filled - start;
        var target = count > _buffer.Length ? new byte[Math.Max(count, _buffer.Length * 2)] : _buffer;
        Buffer.BlockCopy(_buffer, start, target, 0, kept);
        _buffer = target;
        _bufferOffset = Position;
        _filled = kept;

        while (_filled < count)
        {
            int room = (int)Math.Min(_buffer.Length - _filled, limit - (_bufferOffset + _filled));
            if (room <= 0) return false;
            int read = RandomAccess.Read(_file, _buffer.AsSpan(_filled, room), _bufferOffset + _filled);
            if (read == 0) return false;
            _filled += read;
        }
        return true;
    }

    public void Dispose()
    {
        if (_ownsFile) _file.Dispose();
    }
}
