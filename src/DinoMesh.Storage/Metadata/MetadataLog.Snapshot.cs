using DinoMesh.Storage.Native;

namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>Saves a snapshot without a term (term 0); see <see cref="SaveSnapshot(long, long, ReadOnlySpan{byte})"/>.</summary>
    public void SaveSnapshot(long version, ReadOnlySpan<byte> state) => SaveSnapshot(version, 0, state);

    /// <summary>
    /// Replaces the saved snapshot with the state as of <paramref name="version"/>; durable when this returns. An older
    /// snapshot than the saved one is ignored (only the newest is kept). A snapshot beyond <see cref="LastVersion"/>
    /// (one received from a peer when this node is far behind) supersedes every record: the floor moves to
    /// <paramref name="version"/> in the same transaction, the segments are deleted, and the next append is
    /// <paramref name="version"/> + 1.
    /// </summary>
    public void SaveSnapshot(long version, long term, ReadOnlySpan<byte> state)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(version);
        lock (_writeLock)
        {
            ThrowIfDisposed();
            if (version < _snapshotVersion) return;
            bool beyondLog = version > _lastVersion;
            var payload = state.ToArray();
            LogFullException.Guard(_path, () =>
            {
                using var transaction = _writer.BeginTransaction();
                using var command = _writer.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "DELETE FROM snapshot; INSERT INTO snapshot(version, term, payload) VALUES ($version, $term, $payload);"
                    + (beyondLog ? FloorUpsert : "");
                command.Parameters.AddWithValue("$version", version);
                command.Parameters.AddWithValue("$term", term);
                command.Parameters.AddWithValue("$payload", payload);
                command.ExecuteNonQuery();
                transaction.Commit();
            });
            Interlocked.Exchange(ref _snapshotVersion, version);
            if (!beyondLog) return;
            Interlocked.Exchange(ref _floor, version);
            DropSegmentsCoveredBy(version);
            Interlocked.Exchange(ref _lastTerm, term);
            Interlocked.Exchange(ref _lastVersion, version);
        }
    }

    /// <summary>The newest saved snapshot, or null.</summary>
    public Snapshot? LoadSnapshot()
    {
        ThrowIfDisposed();
        var connection = RentReader();
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT version, term, payload FROM snapshot ORDER BY version DESC LIMIT 1";
            using var reader = command.ExecuteReader();
            return reader.Read() ? new Snapshot(reader.GetInt64(0), reader.GetInt64(1), (byte[])reader.GetValue(2)) : null;
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
            if (upToVersion > _snapshotVersion)
                throw new ArgumentOutOfRangeException(nameof(upToVersion), upToVersion, $"metadata log: cannot drop records up to {upToVersion}, the snapshot only covers up to {_snapshotVersion}");
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
    /// list and stop. A delete that fails leaves a file the scan at open deletes (the floor is already durable).
    /// </summary>
    private void DropSegmentsCoveredBy(long floor)
    {
        var segments = _segments;
        var covered = segments.Where(s => s.IsCoveredBy(floor)).ToList();
        if (covered.Count == 0) return;
        if (_active is not null && covered.Contains(_active.Segment))
        {
            _active.Dispose();
            _active = null;
        }
        Volatile.Write(ref _segments, [.. segments.Except(covered)]);
        foreach (var segment in covered) SegmentFile.TryDelete(segment.Path);
        try
        {
            Durability.FsyncDirectory(_segmentDirectory);
        }
        catch (IOException)
        {
            // The floor is durable; a deletion lost to a power cut is redone at open.
        }
    }
}
