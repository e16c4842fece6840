using DinoMesh.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Metadata;

/// <summary>The segments that hold records after the scan at open, oldest first, and the last record found.</summary>
internal sealed record RecoveredSegments(LogSegment[] Segments, long LastVersion, long LastTerm);

/// <summary>
/// The scan at open. Every record of every segment is read and its CRC and version checked, because a wrong state
/// served from a damaged log is worse than a node that refuses to start.
/// <para>What a crash can leave, and is repaired quietly: a torn last record (the process died inside the write, or a
/// power cut kept the new file size but not all of its data), i.e. a bad record in the newest segment that nothing
/// valid follows: it runs to the end of the file, or only zeros follow it; the file is cut there. A newest segment too
/// short for its header, or all zeros, whose creation was cut short: deleted. Segments that the floor covers (a
/// TruncatePrefix or a snapshot installed beyond the log had recorded the floor but not yet deleted them): deleted.</para>
/// <para>Everything else (a bad record with valid data after it, a hole between segments, a header that does not match
/// its name, a first segment that starts past the floor) is damage: <see cref="IOException"/> "… is damaged …".</para>
/// </summary>
internal static class SegmentRecovery
{
    private const int ScanBufferSize = 1 << 20;

    public static RecoveredSegments Recover(string directory, long floor, long snapshotVersion)
    {
        var named = new List<(long First, string Path)>();
        foreach (string path in Directory.EnumerateFiles(directory, "*" + SegmentFormat.Extension))
        {
            if (SegmentFormat.ParseFileName(System.IO.Path.GetFileName(path)) is long first) named.Add((first, path));
        }
        named.Sort((a, b) => a.First.CompareTo(b.First));

        var kept = new List<LogSegment>();
        long lastVersion = 0, lastTerm = 0;
        bool changed = false;
        for (int i = 0; i < named.Count; i++)
        {
            bool newest = i == named.Count - 1;
            var (first, path) = named[i];
            // An older segment ends where the next one starts: when that is at or below the floor, it only holds
            // records already dropped.
            if (!newest && named[i + 1].First - 1 <= floor)
            {
                File.Delete(path);
                changed = true;
                continue;
            }

            var segment = Scan(path, first, newest, ref lastVersion, ref lastTerm, ref changed);
            if (segment is null) continue;
            if (segment.IsCoveredBy(floor))
            {
                File.Delete(path);
                changed = true;
                continue;
            }
            kept.Add(segment);
        }
        if (changed) Durability.FsyncDirectory(directory);

        for (int i = 0; i < kept.Count; i++)
        {
            long expected = i == 0 ? Math.Min(floor, snapshotVersion) + 1 : kept[i - 1].LastVersion + 1;
            bool fits = i == 0 ? kept[i].FirstVersion <= expected : kept[i].FirstVersion == expected;
            if (!fits)
                throw Damaged(kept[i].Path, i == 0
                    ? $"it starts at version {kept[i].FirstVersion}, but the log before it ends at {expected - 1}"
                    : $"it starts at version {kept[i].FirstVersion}, but the segment before it ends at {expected - 1}");
        }
        return new RecoveredSegments([.. kept], lastVersion, lastTerm);
    }

    /// <summary>Reads one segment; null when it was an unfinished newest segment (deleted).</summary>
    private static LogSegment? Scan(string path, long first, bool newest, ref long lastVersion, ref long lastTerm, ref bool changed)
    {
        using var file = File.OpenHandle(path, FileMode.Open, newest ? FileAccess.ReadWrite : FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long length = RandomAccess.GetLength(file);
        Span<byte> header = stackalloc byte[SegmentFormat.HeaderSize];
        bool headerWhole = length >= SegmentFormat.HeaderSize && RandomAccess.Read(file, header, 0) == SegmentFormat.HeaderSize;
        if (headerWhole && SegmentFormat.FormatOf(header) is { } format && format != SegmentFormat.Format)
        {
            throw new LogFormatException(path, format);
        }
        long? stated = headerWhole ? SegmentFormat.ReadHeader(header) : null;
        if (stated != first)
        {
            if (newest && (!headerWhole || IsZeros(file, 0, length)))
            {
                file.Dispose();
                File.Delete(path);
                changed = true;
                return null;
            }
            throw Damaged(path, headerWhole ? $"its header does not name version {first}" : "it is shorter than its header");
        }

        var segment = new LogSegment(path, first);
        long expected = first, term = lastTerm;
        using var cursor = new SegmentCursor(file, SegmentFormat.HeaderSize, ScanBufferSize, ownsFile: false);
        while (true)
        {
            var status = cursor.Next(length);
            if (status == RecordStatus.End) break;
            if (status == RecordStatus.Ok && cursor.Version == expected && cursor.Term >= term)
            {
                segment.Index(expected, cursor.RecordOffset);
                (expected, term) = (expected + 1, cursor.Term);
                continue;
            }

            long offset = cursor.RecordOffset;
            if (!newest || !IsTornTail(file, cursor, expected, length))
            {
                string what = status switch
                {
                    RecordStatus.Ok when cursor.Version != expected => $"record {cursor.Version} where {expected} was due",
                    RecordStatus.Ok => $"record {cursor.Version} has an older term than the one before it",
                    RecordStatus.Corrupt => "a record fails its checksum",
                    _ => "a record is cut short",
                };
                throw Damaged(path, $"{what} at offset {offset}");
            }
            RandomAccess.SetLength(file, offset);
            RandomAccess.FlushToDisk(file);
            changed = true;
            length = offset;
            break;
        }
        segment.Publish(length, expected - 1);
        if (!segment.IsEmpty) (lastVersion, lastTerm) = (segment.LastVersion, term);
        return segment;
    }

    /// <summary>A bad record that nothing valid can follow: its header is cut short, or only zeros follow, or it is the
    /// record that was due and its announced length reaches the end of the file.</summary>
    private static bool IsTornTail(SafeFileHandle file, SegmentCursor cursor, long expected, long length) =>
        !cursor.HeaderRead
        || IsZeros(file, cursor.RecordOffset, length)
        || (cursor.Version == expected && cursor.DeclaredEnd >= length);

    private static bool IsZeros(SafeFileHandle file, long from, long to)
    {
        var buffer = new byte[64 * 1024];
        for (long offset = from; offset < to;)
        {
            int read = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, to - offset)), offset);
            if (read == 0) return true;
            if (buffer.AsSpan(0, read).ContainsAnyExcept((byte)0)) return false;
            offset += read;
        }
        return true;
    }

    public static IOException Damaged(string path, string what) => new($"metadata log segment {path} is damaged: {what}");
}
