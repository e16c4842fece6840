namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>Saves a snapshot without a term (term 0); see <see cref="SaveSnapshot(long, long, ReadOnlySpan{byte})"/>.</summary>
    public void SaveSnapshot(long version, ReadOnlySpan<byte> state) => SaveSnapshot(version, 0, state);

    /// <summary>
    /// Replaces the saved snapshot with the state as of <paramref name="version"/>. An older snapshot than the saved one
    /// is ignored (only the newest is kept). A snapshot beyond <see cref="LastVersion"/> (one received from a peer
    /// when this node is far behind) supersedes every record: they are dropped in the same transaction and the next
    /// append is <paramref name="version"/> + 1.
    /// </summary>
    public void SaveSnapshot(long version, long term, ReadOnlySpan<byte> state)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(version);
        lock (_writeLock)
        {
            ThrowIfDisposed();
            if (version < _snapshotVersion) return;
            bool beyondLog = version > _lastVersion;
            using (var transaction = _writer.BeginTransaction())
            using (var command = _writer.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = "DELETE FROM snapshot; INSERT INTO snapshot(version, term, payload) VALUES ($version, $term, $payload);"
                    + (beyondLog ? " DELETE FROM log;" : "");
                command.Parameters.AddWithValue("$version", version);
                command.Parameters.AddWithValue("$term", term);
                command.Parameters.AddWithValue("$payload", state.ToArray());
                command.ExecuteNonQuery();
                transaction.Commit();
            }
            Interlocked.Exchange(ref _snapshotVersion, version);
            if (beyondLog) Committed(version, term);
            _unsynced = true;
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
    /// behind catch up from the log instead of a whole snapshot.
    /// </summary>
    public void TruncatePrefix(long upToVersion)
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            if (upToVersion > _snapshotVersion)
                throw new ArgumentOutOfRangeException(nameof(upToVersion), upToVersion, $"metadata log: cannot drop records up to {upToVersion}, the snapshot only covers up to {_snapshotVersion}");
            using var command = _writer.CreateCommand();
            command.CommandText = "DELETE FROM log WHERE version <= $version";
            command.Parameters.AddWithValue("$version", upToVersion);
            command.ExecuteNonQuery();
            _unsynced = true;
        }
    }
}
