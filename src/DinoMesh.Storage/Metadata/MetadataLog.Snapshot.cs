using System.Buffers;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>Saves a snapshot without a term (term 0); see <see cref="SaveSnapshot(long, long, ReadOnlySpan{byte})"/>.</summary>
    public void SaveSnapshot(long version, ReadOnlySpan<byte> state) => SaveSnapshot(version, 0, state);

    /// <summary>
    /// Replaces the saved snapshot with the state as of <paramref name="version"/>; durable when this returns. A snapshot
    /// at or before the saved one is ignored (only the newest is kept, and a version's state never changes). A snapshot
    /// beyond <see cref="LastVersion"/> (one received from a peer when this node is far behind) supersedes every record:
    /// the floor moves to <paramref name="version"/> in the same transaction, the segments are deleted, and the next
    /// append is <paramref name="version"/> + 1.
    /// <para>Appends go on while it runs: the state is written to its own file and synced (see
    /// <see cref="SnapshotFile"/>) before the write lock is taken, and under the lock one small row makes that file the
    /// current snapshot. A crash before that row's commit leaves the old snapshot current and a file the next open
    /// deletes; after it, the new one is current and the old file is the leftover.</para>
    /// </summary>
    public void SaveSnapshot(long version, long term, ReadOnlySpan<byte> state)
    {
        // Small callers (tests): one copy, since a lambda cannot hold a span.
        var bytes = state.ToArray();
        SaveSnapshot(version, term, stream => stream.Write(bytes));
    }

    /// <summary>
    /// As <see cref="SaveSnapshot(long, long, ReadOnlySpan{byte})"/>, with the state written by
    /// <paramref name="writeState"/> to the stream it is given, in pieces (see <see cref="SnapshotFile"/>): the node's
    /// path, where a large tree's snapshot does not fit in an array. Not called when the snapshot would be ignored.
    /// </summary>
    public void SaveSnapshot(long version, long term, Action<Stream> writeState)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(version);
        // Saves are serialised here, not under the write lock: only a save moves the snapshot version, so the check
        // below stays true until this save is done.
        lock (_saveGate)
        {
            ThrowIfDisposed();
            if (version <= Volatile.Read(ref _snapshot).Version) return;
            string file = SnapshotFile.Write(_snapshotDirectory, version, term, writeState);
            SnapshotFileWritten?.Invoke(file);
            NameWrittenSnapshotLocked(version, term, file);
        }
    }

    /// <summary>
    /// Makes the written and synced <paramref name="file"/> the current snapshot. Caller holds the save gate, and no
    /// snapshot at or past <paramref name="version"/> is current.
    /// </summary>
    private void NameWrittenSnapshotLocked(long version, long term, string file)
    {
        bool mayBeNamed = false;
        try
        {
            lock (_writeLock)
            {
                ThrowIfDisposed();
                bool beyondLog = version > _lastVersion;
                NameSnapshotLocked(version, term, file, moveFloor: beyondLog, ref mayBeNamed);
                Volatile.Write(ref _snapshot, new SnapshotMark(version, term));
                if (beyondLog)
                {
                    Interlocked.Exchange(ref _floor, version);
                    _recent.Clear();
                    DropSegmentsCoveredBy(version);
                    Interlocked.Exchange(ref _lastTerm, term);
                    Interlocked.Exchange(ref _lastVersion, version);
                }
            }
        }
        catch
        {
            if (!mayBeNamed) SegmentFile.TryDelete(System.IO.Path.Combine(_snapshotDirectory, file));
            throw;
        }
        // The replaced snapshot's file (and a file a failed save had to leave) is named by nothing now. Not fsynced:
        // a deletion lost to a power cut is redone at open. Files written ahead of their naming stay.
        SnapshotFile.RemoveAllBut(_snapshotDirectory, file, _pendingSnapshots);
    }

    /// <summary>
    /// One transaction makes <paramref name="file"/> the current snapshot (and, with <paramref name="moveFloor"/>, the
    /// floor its version). Caller holds the write lock. <paramref name="mayBeNamed"/> turns true before the commit: a
    /// commit that reports an error may still have reached the disk, so from there the file stays.
    /// </summary>
    private void NameSnapshotLocked(long version, long term, string file, bool moveFloor, ref bool mayBeNamed)
    {
        var named = false;
        try
        {
            LogFullException.Guard(_path, () =>
            {
                using var transaction = _writer.BeginTransaction();
                using var command = _writer.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "DELETE FROM snapshot; INSERT INTO snapshot(version, term, payload, file) VALUES ($version, $term, x'', $file);"
                    + (moveFloor ? FloorUpsert : "");
                command.Parameters.AddWithValue("$version", version);
                command.Parameters.AddWithValue("$term", term);
                command.Parameters.AddWithValue("$file", file);
                command.ExecuteNonQuery();
                named = true;
                transaction.Commit();
            });
        }
        finally
        {
            mayBeNamed |= named;
        }
    }

    /// <summary>
    /// Tests: called by a save between writing its file and taking the write lock to name it (the file name), on the
    /// saving thread; lets a test append meanwhile or copy the files as a crash at that instant would leave them.
    /// </summary>
    internal Action<string>? SnapshotFileWritten { get; set; }

    /// <summary>
    /// The newest saved snapshot, or null, read into memory (tests and small tools; the node maps it:
    /// <see cref="OpenSnapshot"/>). Throws <see cref="MetadataDamagedException"/> when its file is not whole.
    /// </summary>
    public Snapshot? LoadSnapshot()
    {
        using var saved = OpenSnapshot();
        return saved is null ? null : new Snapshot(saved.Version, saved.Term, saved.State.ToArray());
    }

    /// <summary>
    /// The newest saved snapshot, or null: its state memory-mapped from its file and checked whole, never one array (a
    /// large tree's snapshot is larger than an array can be). The caller disposes it once it has decoded the state.
    /// Throws <see cref="MetadataDamagedException"/> when its file is not whole.
    /// </summary>
    public SavedSnapshot? OpenSnapshot()
    {
        ThrowIfDisposed();
        // A save can replace the file between reading the row and opening the file; the row, read again, then names
        // the new one. A file missing while the row still names it is damage. Bounded: saves are rare and slow.
        string? missing = null;
        for (int attempt = 0; attempt < 16; attempt++)
        {
            var (version, term, file, payload) = ReadSnapshot();
            if (version == 0) return null;
            if (file is null) return new SavedSnapshot(version, term, new System.Buffers.ReadOnlySequence<byte>(payload), null);
            if (file == missing)
                throw new MetadataDamagedException($"metadata snapshot {System.IO.Path.Combine(_snapshotDirectory, file)}", $"the database names it as the snapshot at version {version}, but it does not exist");
            if (SnapshotFile.Open(_snapshotDirectory, file, version, term) is { } state) return new SavedSnapshot(version, term, state.Bytes, state);
            missing = file;
        }
        throw new IOException($"metadata log {_path}: the snapshot was replaced 16 times while it was being loaded");
    }

    /// <summary>The current row: a file name, or (a database from before snapshot files) the bytes themselves.</summary>
    private (long Version, long Term, string? File, byte[] Payload) ReadSnapshot()
    {
        var connection = RentReader();
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT version, term, file, payload FROM snapshot ORDER BY version DESC LIMIT 1";
            using var reader = command.ExecuteReader();
            if (!reader.Read()) return (0, 0, null, []);
            return reader.IsDBNull(2)
                ? (reader.GetInt64(0), reader.GetInt64(1), null, (byte[])reader.GetValue(3))
                : (reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), []);
        }
        finally
        {
            ReturnReader(connection);
        }
    }

    /// <summary>
    /// Drops the records up to and including <paramref name="upToVersion"/>, which the saved snapshot must cover
    /// (else <see cref="ArgumentOutOfRangeException"/>). Optional: keeping records lets peers that are only a little
    /// behind catch up from the log instead of a whole snapshot. The floor is recorded (durably) first, then the
    /// segments that hold nothing above it are deleted; a segment that straddles the floor stays until a later
    /// truncation covers it, its older records hidden by <see cref="FirstVersion"/>.
    /// </summary>
    public void TruncatePrefix(long upToVersion)
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            long covered = _snapshot.Version;
            if (upToVersion > covered)
                throw new ArgumentOutOfRangeException(nameof(upToVersion), upToVersion, $"metadata log: cannot drop records up to {upToVersion}, the snapshot only covers up to {covered}");
            if (upToVersion <= _floor) return;
            LogFullException.Guard(_path, () =>
            {
                using var command = _writer.CreateCommand();
                command.CommandText = FloorUpsert;
                command.Parameters.AddWithValue("$version", upToVersion);
                command.ExecuteNonQuery();
            });
            Interlocked.Exchange(ref _floor, upToVersion);
            DropSegmentsCoveredBy(upToVersion);
        }
    }

    private const string FloorUpsert = " INSERT INTO log_floor(id, version) VALUES (1, $version) ON CONFLICT(id) DO UPDATE SET version = excluded.version;";

    /// <summary>
    /// Deletes the segments whose records are all at or below the floor. Readers still inside one see it leave the
    /// list and stop. A delete that fails is logged and retried at every later drop; it is harmless meanwhile (the floor
    /// is already durable, and the scan at open deletes what it covers), but its space is not given back until then.
    /// </summary>
    private void DropSegmentsCoveredBy(long floor)
    {
        var segments = _segments;
        var covered = segments.Where(s => s.IsCoveredBy(floor)).ToList();
        if (covered.Count == 0 && _undeleted.Count == 0) return;
        if (_active is not null && covered.Contains(_active.Segment))
        {
            _active.Dispose();
            _active = null;
        }
        Volatile.Write(ref _segments, [.. segments.Except(covered)]);
        RetryUndeleted();
        foreach (var segment in covered)
        {
            if (SegmentFile.TryDelete(segment.Path, out var error)) continue;
            _undeleted.Add(segment.Path);
            _logger.LogWarning("metadata log: could not delete {Segment}, which the snapshot at {Floor} covers ({Error}); its space stays taken until a later compaction or the next start deletes it", segment.Path, floor, error!.Message);
        }
        try
        {
            FsyncSegmentDirectory();
        }
        catch (IOException)
        {
            // The floor is durable; a deletion lost to a power cut is redone at open.
        }
    }

    private void RetryUndeleted()
    {
        for (int i = _undeleted.Count - 1; i >= 0; i--)
        {
            if (!SegmentFile.TryDelete(_undeleted[i], out _)) continue;
            _logger.LogInformation("metadata log: deleted {Segment} at last (an earlier delete had failed)", _undeleted[i]);
            _undeleted.RemoveAt(i);
        }
    }
}
