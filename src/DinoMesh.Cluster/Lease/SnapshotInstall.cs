using DinoMesh.Storage.Metadata;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// What a follower's log keeps when it installs the holder's snapshot, by Raft's rule (InstallSnapshot, §7): a log
/// that holds the snapshot's last entry (its version, in its term) keeps every entry after it; a log that does not
/// has nothing after it that the holder has, and loses it.
/// <para>Why it matters: entries past the snapshot's version that this follower appended and acknowledged may be what
/// made a later version committed (on a majority); dropping them could leave a committed version on fewer than a
/// majority. The lease machine installs only a snapshot its log does not hold (<see cref="LeaseLog"/>'s install checks
/// the version and term again), so the keeping branch is the rule stated whole, not a path it takes.</para>
/// <para>Only the entries the snapshot contradicts (from its version on) go before it is saved. Those before it stay
/// until the save, which (the log now ending before the snapshot) moves the floor past them in the transaction that
/// names the snapshot: a crash in between leaves them, and every entry this follower acknowledged, where they were.</para>
/// </summary>
internal static class SnapshotInstall
{
    /// <summary>
    /// Drops what the snapshot at <paramref name="version"/> of <paramref name="term"/> contradicts in
    /// <paramref name="log"/>; returns the first version dropped, or null when nothing was.
    /// </summary>
    public static long? DropContradicted(MetadataLog log, long version, long term)
    {
        // Already covered by a snapshot here, or nothing at or past the version: the log has nothing to give up.
        if (version <= log.SnapshotVersion || log.LastVersion < version) return null;
        // The log holds the snapshot's last entry: what follows it is the holder's too, and stays.
        if (log.TermAt(version) == term) return null;
        log.TruncateSuffix(version);
        return version;
    }
}
