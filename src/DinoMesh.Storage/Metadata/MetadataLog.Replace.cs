namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>
    /// Makes a peer's snapshot the whole log, whatever this log holds: every record goes, saved snapshot included, even
    /// when they reach past <paramref name="version"/>. Only for a node whose applied state diverged from the cluster
    /// (a majority lost power and took back entries this node had applied); any other snapshot goes through
    /// <see cref="SaveSnapshot(long, long, ReadOnlySpan{byte})"/>, which never moves backwards. Durable when this returns.
    /// <para>Crash order: the synced marker first stops promising anything (a crash later must not find a marker the
    /// remaining log cannot reach, which open would take for a lost log); then the segments go; then one transaction names
    /// the new snapshot and moves the floor to it. A crash in between leaves the old snapshot and no records after it: a
    /// node behind, which catches up, or diverges again and is told so.</para>
    /// </summary>
    public void ReplaceWithSnapshot(long version, long term, ReadOnlySpan<byte> state)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(version);
        lock (_saveGate)
        {
            ThrowIfDisposed();
            string file = SnapshotFile.Write(_snapshotDirectory, version, term, state);
            bool mayBeNamed = false;
            try
            {
                lock (_writeLock)
                {
                    ThrowIfDisposed();
                    RecordSynced(0, 0);
                    _recent.Clear();
                    _active?.Dispose();
                    _active = null;
                    foreach (var segment in _segments) SegmentFile.TryDelete(segment.Path);
                    Volatile.Write(ref _segments, []);
                    FsyncSegmentDirectory();
                    NameSnapshotLocked(version, term, file, moveFloor: true, ref mayBeNamed);
                    Volatile.Write(ref _snapshot, new SnapshotMark(version, term));
                    Interlocked.Exchange(ref _floor, version);
                    Interlocked.Exchange(ref _lastTerm, term);
                    Interlocked.Exchange(ref _lastVersion, version);
                    RecordSynced(version, term);
                }
            }
            catch
            {
                if (!mayBeNamed) SegmentFile.TryDelete(System.IO.Path.Combine(_snapshotDirectory, file));
                throw;
            }
            SnapshotFile.RemoveAllBut(_snapshotDirectory, file);
        }
    }
}
