namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>
    /// Appends one record. <paramref name="version"/> must be exactly <see cref="LastVersion"/> + 1, else
    /// <see cref="LogGapException"/>; the term may not go backwards. Survives a process crash once this returns;
    /// call <see cref="Sync"/> before acknowledging anything that must survive power loss. On a full disk the last
    /// <see cref="DefaultReserve"/> bytes of the log are kept for appends that <paramref name="mayUseReserve"/>: those
    /// that let the user free space (unlink, rmdir, truncate to zero, rename); others get <see cref="LogFullException"/>.
    /// </summary>
    public void Append(long version, long term, ReadOnlySpan<byte> payload, bool mayUseReserve = false)
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            CheckFollows(version, term, _lastVersion, _lastTerm);
            int size = SegmentFormat.RecordSize(payload.Length);
            var buffer = RecordBuffer(size);
            SegmentFormat.WriteRecord(buffer, version, term, payload);

            var file = ActiveFor(version);
            long offset = file.Segment.Length;
            file.Write(buffer.AsSpan(0, size), mayUseReserve);
            file.Segment.Index(version, offset);
            file.Segment.Publish(offset + size, version);
            _recent.Add(version, term, payload);
            Committed(version, term);
            StorageMetrics.LogAppended(1, size);
        }
    }

    /// <summary>
    /// Appends consecutive records with one write: all of them or (on any error, including a gap anywhere in the
    /// batch) none. Much cheaper per record than single appends. (A process crash in the middle of the write can keep
    /// a prefix of the batch, as if it had been several appends.) The log keeps the records' payload arrays in memory as
    /// they are (the recent records it serves reads from), without a copy: they must not be changed after this call.
    /// </summary>
    public void AppendBatch(IReadOnlyList<LogRecord> records, bool mayUseReserve = false)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0) return;
        lock (_writeLock)
        {
            ThrowIfDisposed();
            long version = _lastVersion, term = _lastTerm, size = 0;
            // By index throughout: a foreach over the interface allocates an enumerator each time, on every append.
            for (var i = 0; i < records.Count; i++)
            {
                var record = records[i];
                CheckFollows(record.Version, record.Term, version, term);
                (version, term) = (record.Version, record.Term);
                size += SegmentFormat.RecordSize(record.Payload.Length);
            }
            if (size > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(records), size, "metadata log: batch too large for one write");

            var buffer = RecordBuffer((int)size);
            int at = 0;
            for (var i = 0; i < records.Count; i++)
            {
                var record = records[i];
                SegmentFormat.WriteRecord(buffer.AsSpan(at), record.Version, record.Term, record.Payload);
                at += SegmentFormat.RecordSize(record.Payload.Length);
            }

            var file = ActiveFor(records[0].Version);
            long tail = file.Segment.Length;
            file.Write(buffer.AsSpan(0, at), mayUseReserve);
            long offset = tail;
            for (var i = 0; i < records.Count; i++)
            {
                var record = records[i];
                file.Segment.Index(record.Version, offset);
                offset += SegmentFormat.RecordSize(record.Payload.Length);
            }
            file.Segment.Publish(offset, version);
            for (var i = 0; i < records.Count; i++) _recent.Add(records[i]);
            Committed(version, term);
            StorageMetrics.LogAppended(records.Count, at);
        }
    }

    private static void CheckFollows(long version, long term, long lastVersion, long lastTerm)
    {
        if (version != lastVersion + 1) throw new LogGapException(lastVersion + 1, version);
        if (term < lastTerm)
            throw new ArgumentOutOfRangeException(nameof(term), term, $"metadata log: term {term} of version {version} is older than the term {lastTerm} of the version before it");
    }

    /// <summary>The reused encoding buffer, grown when a record does not fit (and shrunk back after a huge one).</summary>
    private byte[] RecordBuffer(int size)
    {
        const int Kept = 1 << 20;
        if (size > _recordBuffer.Length || (_recordBuffer.Length > Kept && size <= Kept))
            _recordBuffer = new byte[Math.Max(size, 4096)];
        return _recordBuffer;
    }

    /// <summary>
    /// The segment that <paramref name="version"/> goes into. A new one starts when there is none (first append, or
    /// the segments were dropped for a snapshot beyond the log) or the newest one has grown past the segment size; the
    /// one left behind is fdatasynced before any record goes into the new one, so only the newest segment ever holds
    /// unsynced records and Sync has one file to flush. On a full disk no new segment can be made: the log goes on in
    /// the old one, past the segment size, where its reserve is.
    /// </summary>
    private SegmentFile ActiveFor(long version)
    {
        if (_active is { } active && active.Segment.NextVersion == version && active.Segment.Length < _segmentSize) return active;
        SegmentFile created;
        try
        {
            created = SegmentFile.Create(_segmentDirectory, version, _reserve);
        }
        catch (LogFullException) when (_active is { } full && full.Segment.NextVersion == version)
        {
            return full;
        }
        Created(created);
        if (_active is { } previous)
        {
            try
            {
                DataSync(previous);
            }
            catch
            {
                created.Dispose();
                SegmentFile.TryDelete(created.Segment.Path);
                throw;
            }
            previous.ReleaseRoom();
            previous.Dispose();
            _active = null;
        }
        _active = created;
        Volatile.Write(ref _segments, [.. _segments, created.Segment]);
        return created;
    }

    private void Committed(long version, long term)
    {
        Interlocked.Exchange(ref _lastTerm, term);
        Interlocked.Exchange(ref _lastVersion, version);
        _unsynced = true;
    }

    /// <summary>
    /// Checks, before a change is accepted, that <paramref name="size"/> more bytes of records will fit: outside the
    /// reserve, or inside it when <paramref name="mayUseReserve"/>. Throws <see cref="LogFullException"/> when not.
    /// (A log that replicates entries it did not choose appends them with the reserve allowed; the holder asks here
    /// first, so an ordinary change on a full disk is refused with ENOSPC before it is in anyone's log.)
    /// </summary>
    public void EnsureRoom(long size, bool mayUseReserve)
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            if (_active is { } active && active.Segment.Length < _segmentSize) active.EnsureRoom(size, mayUseReserve);
        }
    }
}
