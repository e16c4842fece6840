namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>
    /// Makes everything appended so far durable against power loss: one fdatasync of the newest segment (older
    /// segments were synced when the log moved past them; snapshots, key/values and the floor are synced by SQLite
    /// when they are written). Does nothing when nothing was appended since the last Sync.
    /// </summary>
    public void Sync()
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            if (!_unsynced) return;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            _active?.DataSync(_path);
            StorageMetrics.LogSynced(started);
            _unsynced = false;
        }
    }
}
