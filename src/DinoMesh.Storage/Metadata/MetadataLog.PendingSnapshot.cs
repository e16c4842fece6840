namespace DinoMesh.Storage.Metadata;

/// <summary>A snapshot file written and synced ahead of being named current (<see cref="MetadataLog.BeginSnapshot"/>).</summary>
public sealed record PendingSnapshot(long Version, long Term, string File);

public sealed partial class MetadataLog
{
    // Files of pending snapshots: a save that names another file leaves them. Guarded by the save gate.
    private readonly HashSet<string> _pendingSnapshots = [];

    /// <summary>
    /// The first half of <see cref="SaveSnapshot(long, long, Action{Stream})"/>: writes and syncs the snapshot's file
    /// but does not make it current, so the slow part (a large tree is gigabytes) can run while the caller holds no lock
    /// the rest of the node needs. <see cref="CompleteSnapshot"/> names it; <see cref="AbandonSnapshot"/> drops it; a
    /// crash in between leaves a file the next open deletes. Null when a snapshot at or past
    /// <paramref name="version"/> is already current (nothing written).
    /// </summary>
    public PendingSnapshot? BeginSnapshot(long version, long term, Action<Stream> writeState)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(version);
        lock (_saveGate)
        {
            ThrowIfDisposed();
            if (version <= Volatile.Read(ref _snapshot).Version) return null;
            string file = SnapshotFile.Write(_snapshotDirectory, version, term, writeState);
            _pendingSnapshots.Add(file);
            SnapshotFileWritten?.Invoke(file);
            return new PendingSnapshot(version, term, file);
        }
    }

    /// <summary>
    /// Makes <paramref name="pending"/> the current snapshot, as the second half of a save: durable when this returns.
    /// False (and its file gone) when a snapshot at or past its version became current meanwhile.
    /// </summary>
    public bool CompleteSnapshot(PendingSnapshot pending)
    {
        lock (_saveGate)
        {
            _pendingSnapshots.Remove(pending.File);
            ThrowIfDisposed();
            if (pending.Version <= Volatile.Read(ref _snapshot).Version)
            {
                DeletePendingLocked(pending);
                return false;
            }
            NameWrittenSnapshotLocked(pending.Version, pending.Term, pending.File);
            return true;
        }
    }

    /// <summary>Drops a pending snapshot's file (the install it was written for did not happen).</summary>
    public void AbandonSnapshot(PendingSnapshot pending)
    {
        lock (_saveGate)
        {
            if (_pendingSnapshots.Remove(pending.File)) DeletePendingLocked(pending);
        }
    }

    private void DeletePendingLocked(PendingSnapshot pending)
    {
        // Files are named by version: the current snapshot at the same version is this very name.
        if (pending.Version == Volatile.Read(ref _snapshot).Version) return;
        SegmentFile.TryDelete(System.IO.Path.Combine(_snapshotDirectory, pending.File));
    }
}
