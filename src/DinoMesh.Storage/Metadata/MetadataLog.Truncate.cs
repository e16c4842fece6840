namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>
    /// Drops every record from <paramref name="version"/> on: a lease holder of a later term replaced them (they were
    /// never committed). Versions at or below the snapshot or the floor cannot be dropped. Durable when this returns, so
    /// that the records appended after it, once synced, can never come back with the dropped ones beside them.
    /// <para>Crash order: <c>log.synced</c> is lowered first (it must never promise records the log no longer holds);
    /// then whole segments go, newest first, each unlink made durable by a directory fsync before the next; then the
    /// segment that straddles the version is cut back and fdatasynced. A power cut at any point leaves a prefix of the
    /// log as it was, never a hole. Without the syncs a power cut after later appends and their Sync could bring
    /// deleted segments back behind the new records (the cut-back segment's fdatasync keeps those): the log then held
    /// the replaced records after the new ones, or failed to open.</para>
    /// <para>An unlink or a sync that fails throws (the lease driver then stops for good): a segment left behind would
    /// come back at the next open behind whatever is appended here.</para>
    /// <para>Costs a directory fsync per dropped segment and one fdatasync; truncations are rare (after an election).</para>
    /// </summary>
    public void TruncateSuffix(long version)
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            long covered = _snapshot.Version;
            if (version <= Math.Max(_floor, covered))
                throw new ArgumentOutOfRangeException(nameof(version), version, $"metadata log: cannot drop records from {version}: the snapshot covers up to {covered}");
            if (version > _lastVersion) return;
            long keptTerm = TermOfLocked(version - 1);
            // What was synced past the cut is going: the marker must not promise it, or the next open refuses the log.
            if (_synced.Version >= version) RecordSynced(version - 1, keptTerm);
            Destructive($"dropping records from {version} on", () =>
            {
                _recent.CutFrom(version);
                var segments = _segments;
                var keep = new List<LogSegment>();
                foreach (var segment in segments)
                {
                    if (segment.FirstVersion < version) keep.Add(segment);
                }
                for (int i = segments.Length - 1; i >= keep.Count; i--)
                {
                    var segment = segments[i];
                    if (_active?.Segment == segment)
                    {
                        _active.Dispose();
                        _active = null;
                    }
                    File.Delete(segment.Path);
                    FsyncSegmentDirectory();
                }
                if (keep.Count > 0 && keep[^1].LastVersion >= version)
                {
                    var segment = keep[^1];
                    var offset = OffsetOf(segment, version);
                    if (_active?.Segment != segment)
                    {
                        _active?.Dispose();
                        _active = SegmentFile.Open(segment, _reserve);
                    }
                    // Readers first stop short of the records, then the file loses them.
                    segment.Cut(offset, version - 1);
                    _active.CutBack(offset);
                    DataSync(_active);
                }
                Volatile.Write(ref _segments, [.. keep]);
                _lastVersion = version - 1;
                _lastTerm = keptTerm;
            });
        }
    }

    /// <summary>The file offset where record <paramref name="version"/> of <paramref name="segment"/> starts.</summary>
    private static long OffsetOf(LogSegment segment, long version)
    {
        var (indexed, offset) = segment.Seek(version);
        using var cursor = SegmentCursor.TryOpen(segment.Path, offset, 64 * 1024)
            ?? throw new IOException($"metadata log segment {segment.Path} vanished");
        for (var v = indexed; v < version; v++)
        {
            if (cursor.Next(segment.Length) != RecordStatus.Ok) throw SegmentRecovery.Damaged(segment.Path, $"record {v} is unreadable");
        }
        return cursor.Position;
    }

    private long TermOfLocked(long version)
    {
        if (version == 0) return 0;
        if (version == _snapshot.Version) return _snapshot.Term;
        foreach (var record in ReadFrom(version)) return record.Term;
        return 0;
    }
}
