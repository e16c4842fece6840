using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// A node's log on a simulated disk: entries after a snapshot point, and how far they are durable. A kill -9 keeps
/// everything written (it sits in the page cache); a power cut keeps only what was synced.
/// </summary>
internal sealed class MemoryLog : ILogView
{
    private readonly List<LogEntry> _entries = [];

    public (long Version, long Term) Snapshot { get; private set; }

    /// <summary>The state the snapshot stands for (in the simulation: the applied payloads up to it).</summary>
    public byte[] SnapshotState { get; private set; } = [];

    public long Synced { get; private set; }

    public long LastVersion => _entries.Count > 0 ? _entries[^1].Version : Snapshot.Version;

    public long TermAt(long version)
    {
        if (version == Snapshot.Version) return Snapshot.Term;
        if (version < Snapshot.Version || version > LastVersion) return -1;
        return _entries[(int)(version - Snapshot.Version - 1)].Term;
    }

    public IReadOnlyList<LogEntry> Read(long from, int maxCount, long maxBytes)
    {
        var result = new List<LogEntry>();
        long bytes = 0;
        for (var v = Math.Max(from, Snapshot.Version + 1); v <= LastVersion && result.Count < maxCount; v++)
        {
            var e = _entries[(int)(v - Snapshot.Version - 1)];
            if (result.Count > 0 && bytes + e.Payload.Length > maxBytes) break;
            result.Add(e);
            bytes += e.Payload.Length;
        }
        return result;
    }

    public void Append(IReadOnlyList<LogEntry> entries)
    {
        foreach (var e in entries)
        {
            if (e.Version != LastVersion + 1) throw new InvalidOperationException($"append of {e.Version} after {LastVersion}");
            _entries.Add(e);
        }
    }

    /// <summary>
    /// Drops the entries from <paramref name="version"/> on, durably at once: a power cut never brings them back, as
    /// <c>MetadataLog.TruncateSuffix</c> guarantees since 2026-12-07 (it syncs the unlinks and the cut before returning).
    /// Before, the store's dropped entries could come back after a power cut; modelled here as the worst case (every
    /// dropped entry that continues the synced log comes back), seed 200603 of the single-machine power-loss
    /// schedules failed: a restarted follower replayed a dropped entry up to the commit it had written down and
    /// applied it as committed.
    /// </summary>
    public void TruncateFrom(long version)
    {
        if (version <= Snapshot.Version) throw new InvalidOperationException($"truncate at {version} below the snapshot {Snapshot.Version}");
        var keep = (int)(version - Snapshot.Version - 1);
        if (keep < _entries.Count) _entries.RemoveRange(keep, _entries.Count - keep);
        Synced = Math.Min(Synced, LastVersion);
    }

    public void Sync() => Synced = LastVersion;

    /// <summary>
    /// A snapshot beyond or inside the log, by the rule the driver follows (<see cref="SnapshotInstall"/>, Raft's): a log
    /// that holds the snapshot's version in its term keeps the entries after it; any other log is superseded whole.
    /// </summary>
    public void InstallSnapshot(long version, long term, byte[] state)
    {
        if (version <= Snapshot.Version) return;
        if (version >= LastVersion || TermAt(version) != term) _entries.Clear();
        else _entries.RemoveRange(0, (int)(version - Snapshot.Version));
        Snapshot = (version, term);
        SnapshotState = state;
        Synced = Math.Max(Synced, version);
    }

    /// <summary>A holder's snapshot that supersedes everything here, older or not (this node diverged).</summary>
    public void ReplaceWithSnapshot(long version, long term, byte[] state)
    {
        _entries.Clear();
        Snapshot = (version, term);
        SnapshotState = state;
        Synced = version;
    }

    /// <summary>Compaction: fold entries up to <paramref name="version"/> into a snapshot of <paramref name="state"/>.</summary>
    public void Compact(long version, byte[] state)
    {
        if (version <= Snapshot.Version || version > LastVersion) return;
        var term = TermAt(version);
        _entries.RemoveRange(0, (int)(version - Snapshot.Version));
        Snapshot = (version, term);
        SnapshotState = state;
        Synced = Math.Max(Synced, version);
    }

    /// <summary>A power cut: what was not synced is gone.</summary>
    public void LoseUnsynced()
    {
        if (Synced < LastVersion) TruncateFrom(Math.Max(Synced, Snapshot.Version) + 1);
    }
}
