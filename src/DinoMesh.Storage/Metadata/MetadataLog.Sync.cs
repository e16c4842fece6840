using DinoMesh.Storage.Native;

namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>
    /// Makes everything appended so far durable against power loss: one fdatasync of the newest segment (older
    /// segments were synced when the log moved past them; snapshots, key/values and the floor are synced by SQLite
    /// when they are written), then the version is recorded in <c>log.synced</c> (written in place, fdatasynced), so
    /// that a later open notices if the log ever ends before it. Does nothing when nothing was appended since the last
    /// Sync.
    /// </summary>
    public void Sync()
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            if (!_unsynced) return;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            if (_active is { } active) DataSync(active);
            RecordSynced(_lastVersion, _lastTerm);
            StorageMetrics.LogSynced(started);
            _unsynced = false;
        }
    }

    /// <summary>
    /// Tests: called after each fsync or fdatasync the log makes of a segment file, of the segment directory or of
    /// <c>log.synced</c> (with that path), under the write lock; lets a test model a power cut as losing everything
    /// the log changed in those files since (the tests' <c>PowerCut</c>).
    /// </summary>
    internal Action<string>? MadeDurable { get; set; }

    private void DataSync(SegmentFile file)
    {
        file.DataSync();
        MadeDurable?.Invoke(file.Segment.Path);
    }

    /// <summary>Makes the creations and unlinks of segment files durable.</summary>
    private void FsyncSegmentDirectory()
    {
        Durability.FsyncDirectory(_segmentDirectory);
        MadeDurable?.Invoke(_segmentDirectory);
    }

    /// <summary>A segment file just created: its header and its name are durable (<see cref="SegmentFile.Create"/>).</summary>
    private void Created(SegmentFile file)
    {
        MadeDurable?.Invoke(file.Segment.Path);
        MadeDurable?.Invoke(_segmentDirectory);
    }

    /// <summary>Records <paramref name="version"/> in <c>log.synced</c> (fdatasynced).</summary>
    private void RecordSynced(long version, long term)
    {
        _synced.Record(version, term);
        MadeDurable?.Invoke(_synced.Path);
    }
}
