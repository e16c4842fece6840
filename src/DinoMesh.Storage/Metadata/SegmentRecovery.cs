using DinoMesh.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The segments that hold records after the scan at open, oldest first, the last record found, and what the scan
/// repaired (each with the versions it dropped), for the caller to log.
/// </summary>
internal sealed record RecoveredSegments(LogSegment[] Segments, long LastVersion, long LastTerm, IReadOnlyList<string> Repairs);

/// <summary>
/// The scan at open. Every record of every segment is read and its CRC and version checked, because a wrong state
/// served from a damaged log is worse than a node that refuses to start.
/// <para>What a crash can leave, and is repaired (and reported in <see cref="RecoveredSegments.Repairs"/>): a torn last record (the process died inside the write, or a
/// power cut kept the new file size but not all of its data), i.e. a bad record in the newest segment that nothing
/// valid follows: it runs to the end of the file, or only zeros follow it; the file is cut there. A newest segment too
/// short for its header, or all zeros, whose creation was cut short: deleted. Segments that the floor covers (a
/// TruncatePrefix or a snapshot installed beyond the log had recorded the floor but not yet deleted them): deleted.
/// Records after the snapshot whose first is of an older term than the snapshot's (segments a replacing snapshot
/// dropped, back after a crash): deleted (see <see cref="DropStale"/>).</para>
/// <para>A repair never drops a version at or below <c>synced</c> (the newest version a Sync made durable): there a
/// torn or missing tail is not a crash's leftover but lost records, and the scan refuses without changing any file.</para>
/// <para>Everything else (a bad record with valid data after it, a hole between segments, a header that does not match
/// its name, a first segment that starts past the floor) is damage: <see cref="IOException"/> "… is damaged …".</para>
/// </summary>
internal static class SegmentRecovery
{
    private const int ScanBufferSize = 1 << 20;

    public static RecoveredSegments Recover(string directory, long floor, long snapshotVersion, long snapshotTerm = 0, long synced = 0, string? syncedPath = null)
    {
        var repairs = new List<string>();
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

            var segment = Scan(path, first, newest, new Promise(synced, syncedPath), repairs, ref lastVersion, ref lastTerm, ref changed);
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
        if (kept.Count > 0 && snapshotVersion > 0 && kept[^1].LastVersion > snapshotVersion)
        {
            var (segment, term) = FirstAfter(kept, snapshotVersion);
            if (term < snapshotTerm)
            {
                DropStale(directory, kept, segment, snapshotVersion, snapshotTerm, term, floor, new Promise(synced, syncedPath), repairs);
                return new RecoveredSegments([], 0, 0, repairs);
            }
        }
        return new RecoveredSegments([.. kept], lastVersion, lastTerm, repairs);
    }

    /// <summary>The segment that holds the first record after <paramref name="snapshotVersion"/>, and that record's term.</summary>
    private static (LogSegment Segment, long Term) FirstAfter(List<LogSegment> kept, long snapshotVersion)
    {
        long version = snapshotVersion + 1;
        var segment = kept.First(s => s.LastVersion >= version);
        var (indexed, offset) = segment.Seek(version);
        using var cursor = SegmentCursor.TryOpen(segment.Path, offset, 64 * 1024)
            ?? throw new IOException($"metadata log segment {segment.Path} vanished during the scan at open");
        for (var v = indexed; v <= version; v++)
        {
            if (cursor.Next(segment.Length) != RecordStatus.Ok) throw Damaged(segment.Path, $"record {v} is unreadable");
        }
        return (segment, cursor.Term);
    }

    /// <summary>
    /// Records after the snapshot of an older term than the snapshot's: segments a snapshot replaced (a diverged log
    /// that <c>ReplaceWithSnapshot</c> or a snapshot install dropped) that a crash brought back, an unlink lost or
    /// failed. A log never holds them otherwise: terms never go down along the log, and the snapshot's term is that of
    /// the record at its version. They are dropped, not refused: the snapshot is the cluster's state and these records
    /// contradict it, so there is nothing in them to keep and nothing an operator could do but delete them; the node
    /// is then behind, and catches up. Two cases are not such leftovers and are refused as damage: records between the
    /// floor and the snapshot (the log was not replaced, so the record at the snapshot's version is in it, and its term
    /// is not the snapshot's), and a synced marker that promises the stale records (a replacement lowers it first).
    /// Newest first, each unlink made durable before the next: a crash in this repair leaves a prefix, dropped again.
    /// </summary>
    private static void DropStale(string directory, List<LogSegment> kept, LogSegment segment, long snapshotVersion, long snapshotTerm, long term, long floor, Promise promise, List<string> repairs)
    {
        string what = $"record {snapshotVersion + 1} follows the snapshot at version {snapshotVersion} of term {snapshotTerm} but is of the older term {term}";
        if (floor < snapshotVersion) throw Damaged(segment.Path, what);
        promise.Check(segment.Path, what, snapshotVersion);
        for (int i = kept.Count - 1; i >= 0; i--)
        {
            File.Delete(kept[i].Path);
            Durability.FsyncDirectory(directory);
        }
        repairs.Add($"deleted {string.Join(", ", kept.Select(s => s.Path))} ({what}: segments the snapshot replaced, back after a crash): versions {snapshotVersion + 1} to {kept[^1].LastVersion} are dropped, log.synced does not promise them");
    }

    /// <summary>The newest version a Sync made durable, and the file that says so.</summary>
    private readonly record struct Promise(long Synced, string? Path)
    {
        /// <summary>Refuses when a repair that keeps versions up to <paramref name="endsAt"/> only would drop a synced one.</summary>
        public void Check(string segment, string what, long endsAt)
        {
            if (endsAt < Synced) throw LogLost($"metadata log segment {segment}", what, endsAt, Synced, Path);
        }
    }

    /// <summary>Records up to <paramref name="synced"/> were made durable, and the log ends at <paramref name="endsAt"/>.</summary>
    public static MetadataDamagedException LogLost(string file, string what, long endsAt, long synced, string? syncedPath) =>
        new(file,
            $"{what}, so the log ends at version {endsAt}, but versions up to {synced} were made durable by fsync ({synced - endsAt} committed entries are missing)",
            syncedPath is null ? null : $"to start at version {endsAt} and lose those entries, delete {syncedPath}");

    /// <summary>Reads one segment; null when it was an unfinished newest segment (deleted).</summary>
    private static LogSegment? Scan(string path, long first, bool newest, Promise promise, List<string> repairs, ref long lastVersion, ref long lastTerm, ref bool changed)
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
                string what = headerWhole ? "it holds only zeros" : $"it is {length} bytes long, shorter than its header";
                promise.Check(path, what, first - 1);
                repairs.Add($"deleted the unfinished newest segment {path} ({what}): versions from {first} on are dropped, none of them had been synced");
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
            string torn = status switch
            {
                RecordStatus.Corrupt => $"the record at offset {offset} fails its checksum",
                _ when !cursor.HeaderRead => $"the record at offset {offset} is cut short",
                _ => $"the record at offset {offset} is torn",
            };
            promise.Check(path, torn, expected - 1);
            repairs.Add($"cut a torn tail off {path} at offset {offset} ({torn}): versions from {expected} on are dropped, none of them had been synced");
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

    public static MetadataDamagedException Damaged(string path, string what) => new($"metadata log segment {path}", what);
}
