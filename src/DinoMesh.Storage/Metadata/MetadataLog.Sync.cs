using Microsoft.Data.Sqlite;
namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>
    /// Makes everything appended or set so far durable against power loss.
    /// <para>How: one small commit under <c>synchronous=FULL</c>. In WAL mode that fsyncs the WAL after the commit
    /// frame, and since the WAL is append-only that one fsync covers every earlier commit too. The alternative,
    /// <c>PRAGMA wal_checkpoint(FULL)</c>, fsyncs the WAL, copies every page into the database and fsyncs that as well,
    /// and waits for readers; measured here it costs more (see the MetadataLogSyncTests output).</para>
    /// Does nothing when nothing changed since the last Sync.
    /// </summary>
    public void Sync()
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            if (!_unsynced) return;
            LogFullException.Guard(_path, SyncByFullCommit);
            _unsynced = false;
        }
    }

    /// <summary>
    /// Copies the WAL into the database (a passive checkpoint on its own connection, so appends go on meanwhile; the
    /// next append after a complete checkpoint starts the WAL over). It fsyncs: call it only after whatever the
    /// entries refer to (chunks) is durable. Automatic checkpoints are off for that reason.
    /// </summary>
    public void Checkpoint()
    {
        ThrowIfDisposed();
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
        }.ToString());
        connection.Open();
        LogFullException.Guard(_path, () => Schema.Execute(connection, "PRAGMA wal_checkpoint(PASSIVE)"));
    }

    private void SyncByFullCommit()
    {
        Schema.Execute(_writer, "PRAGMA synchronous=FULL");
        try
        {
            Schema.Execute(_writer, "INSERT INTO sync_mark(id, syncs) VALUES (1, 1) ON CONFLICT(id) DO UPDATE SET syncs = syncs + 1");
        }
        finally
        {
            Schema.Execute(_writer, "PRAGMA synchronous=NORMAL");
        }
    }

    /// <summary>The alternative Sync strategy, kept to measure it against the chosen one.</summary>
    internal void SyncByCheckpoint()
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            Schema.Execute(_writer, "PRAGMA wal_checkpoint(FULL)");
            _unsynced = false;
        }
    }
}
