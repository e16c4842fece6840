namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>
    /// The term <paramref name="version"/> was written in: 0 for version 0, the snapshot's term for the snapshot's
    /// version, and -1 when the record is no longer (or not yet) held.
    /// </summary>
    public long TermAt(long version)
    {
        ThrowIfDisposed();
        if (version == 0) return 0;
        if (version == LastVersion) return LastTerm;
        if (version < FirstVersion)
        {
            var snapshot = Volatile.Read(ref _snapshot);
            return version == snapshot.Version ? snapshot.Term : -1;
        }
        foreach (var record in ReadFrom(version)) return record.Version == version ? record.Term : -1;
        return -1;
    }
}
