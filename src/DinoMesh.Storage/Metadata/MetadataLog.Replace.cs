namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>
    /// Makes a peer's snapshot the whole log, whatever this log holds: every record goes, saved snapshot included, even
    /// when they reach past <paramref name="version"/>. Only for a node whose applied state diverged from the cluster
    /// (a majority lost power and took back entries this node had applied); any other snapshot goes through
    /// <see cref="SaveSnapshot(long, long, ReadOnlySpan{byte})"/>, which never moves backwards. Durable when this returns.
    /// <para>Crash order, as <see cref="TruncateSuffix"/>: the synced marker first stops promising anything (a crash
    /// later must not find a marker the remaining log cannot reach, which open would take for a lost log); then the
    /// segments go, newest first, each unlink made durable by a directory fsync before the next; then one transaction
    /// names the new snapshot and moves the floor to it. A power cut in between leaves the old snapshot and a prefix of
    /// the old log, never a hole (which open refuses): a node behind, which catches up, or diverges again and is told
    /// so. Oldest first with one fsync at the end, a cut could keep later segments whose older ones were gone.</para>
    /// <para>An unlink or a sync that fails throws before the snapshot is named (the log is then left as a prefix of
    /// the old one and must be reopened): a segment left behind past the new floor would come back at the next open as
    /// records after the snapshot that are not the cluster's (open drops those whose term is older than the snapshot's,
    /// a second line of defence: <c>SegmentRecovery.DropStale</c>). Costs a directory fsync per segment; replacements are
    /// rare (a divergence after a majority power loss).</para>
    /// </summary>
    public void ReplaceWithSnapshot(long version, long term, ReadOnlySpan<byte> state)
    {
        // Small callers (tests): one copy, since a lambda cannot hold a span.
        var bytes = state.ToArray();
        ReplaceWithSnapshot(version, term, stream => stream.Write(bytes));
    }

    /// <summary>
    /// As <see cref="ReplaceWithSnapshot(long, long, ReadOnlySpan{byte})"/>, with the state written by
    /// <paramref name="writeState"/> to the stream it is given, in pieces: the node's path (a snapshot may be larger
    /// than an array).
    /// </summary>
    public void ReplaceWithSnapshot(long version, long term, Action<Stream> writeState)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(version);
        lock (_saveGate)
        {
            ThrowIfDisposed();
            string file = SnapshotFile.Write(_snapshotDirectory, version, term, writeState);
            bool mayBeNamed = false;
            try
            {
                lock (_writeLock)
                {
                    ThrowIfDisposed();
                    Destructive($"replacing the log with the snapshot at {version}", () =>
                    {
                        RecordSynced(0, 0);
                        _recent.Clear();
                        _active?.Dispose();
                        _active = null;
                        var segments = _segments;
                        for (int i = segments.Length - 1; i >= 0; i--)
                        {
                            // Readers first stop short of the segment, then it goes.
                            Volatile.Write(ref _segments, segments[..i]);
                            File.Delete(segments[i].Path);
                            FsyncSegmentDirectory();
                        }
                        NameSnapshotLocked(version, term, file, moveFloor: true, ref mayBeNamed);
                        Volatile.Write(ref _snapshot, new SnapshotMark(version, term));
                        Interlocked.Exchange(ref _floor, version);
                        Interlocked.Exchange(ref _lastTerm, term);
                        Interlocked.Exchange(ref _lastVersion, version);
                        RecordSynced(version, term);
                    });
                }
            }
            catch
            {
                if (!mayBeNamed) SegmentFile.TryDelete(System.IO.Path.Combine(_snapshotDirectory, file));
                throw;
            }
            SnapshotFile.RemoveAllBut(_snapshotDirectory, file, _pendingSnapshots);
        }
    }
}
