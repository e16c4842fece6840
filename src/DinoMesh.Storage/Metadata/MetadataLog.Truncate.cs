namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>
    /// Drops every record from <paramref name="version"/> on: a lease holder of a later term replaced them (they were
    /// never committed). Versions at or below the snapshot or the floor cannot be dropped. Not synced: after a power
    /// cut the old records may come back, which is as if this node had never heard of the replacement.
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
            _recent.CutFrom(version);
            var segments = _segments;
            var keep = new List<LogSegment>();
            foreach (var segment in segments)
            {
                if (segment.FirstVersion >= version)
                {
                    if (_active?.Segment == segment)
                    {
                        _active.Dispose();
                        _active = null;
                    }
                    SegmentFile.TryDelete(segment.Path);
                    continue;
                }
                keep.Add(segment);
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
                _active.CutBack(offset);
                segment.Cut(offset, version - 1);
            }
            Volatile.Write(ref _segments, [.. keep]);
            _lastVersion = version - 1;
            _lastTerm = TermOfLocked(version - 1);
            // What was synced past the cut is gone: the marker must not promise it, or the next open refuses the log.
            if (_synced.Version > _lastVersion) _synced.Record(_lastVersion, _lastTerm);
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
