namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>
    /// Appends one record. <paramref name="version"/> must be exactly <see cref="LastVersion"/> + 1, else
    /// <see cref="LogGapException"/>; the term may not go backwards. Survives a process crash once this returns;
    /// call <see cref="Sync"/> before acknowledging anything that must survive power loss.
    /// </summary>
    public void Append(long version, long term, ReadOnlySpan<byte> payload)
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            CheckFollows(version, term, _lastVersion, _lastTerm);
            var bytes = payload.ToArray();
            LogFullException.Guard(_path, () => Insert(version, term, bytes));
            Committed(version, term);
        }
    }

    /// <summary>
    /// Appends consecutive records in one transaction: all of them or (on any error, including a gap anywhere in the
    /// batch) none. Much cheaper per record than single appends.
    /// </summary>
    public void AppendBatch(IReadOnlyList<LogRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0) return;
        lock (_writeLock)
        {
            ThrowIfDisposed();
            long version = _lastVersion, term = _lastTerm;
            foreach (var record in records)
            {
                CheckFollows(record.Version, record.Term, version, term);
                (version, term) = (record.Version, record.Term);
            }

            LogFullException.Guard(_path, () =>
            {
            using (var transaction = _writer.BeginTransaction())
            {
                _append.Transaction = transaction;
                try
                {
                    foreach (var record in records) Insert(record.Version, record.Term, record.Payload);
                    transaction.Commit();
                }
                finally
                {
                    _append.Transaction = null;
                }
            }
            });
            Committed(version, term);
        }
    }

    private static void CheckFollows(long version, long term, long lastVersion, long lastTerm)
    {
        if (version != lastVersion + 1) throw new LogGapException(lastVersion + 1, version);
        if (term < lastTerm)
            throw new ArgumentOutOfRangeException(nameof(term), term, $"metadata log: term {term} of version {version} is older than the term {lastTerm} of the version before it");
    }

    private void Insert(long version, long term, byte[] payload)
    {
        _appendVersion.Value = version;
        _appendTerm.Value = term;
        _appendPayload.Value = payload;
        _append.ExecuteNonQuery();
    }

    private void Committed(long version, long term)
    {
        Interlocked.Exchange(ref _lastTerm, term);
        Interlocked.Exchange(ref _lastVersion, version);
        _unsynced = true;
    }
}
