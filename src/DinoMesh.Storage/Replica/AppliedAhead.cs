using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Metadata;

namespace DinoMesh.Storage.Replica;

/// <summary>
/// What the lease holder already computed for entries it appended but that are not committed yet: checking a proposal
/// against its tip applies the mutation, and applying the same entry again once it commits (after decoding it from the
/// log) cost the holder a second decode and apply of every change. <see cref="MetadataReplica.ApplyCommitted"/> takes
/// the result from here instead when it is certainly the one a fresh apply would give: the record at that version is
/// the one the result was computed from (same version, term and bytes), and the result was computed on the very state
/// the replica holds (the same object, so no snapshot install or replacement came between; apply is pure). Anything
/// else is applied from the log as before. Bounded; thread-safe.
/// </summary>
public sealed class AppliedAhead
{
    /// <summary>Entries kept at most; past that a proposal is applied again at commit (a long stall without quorum).</summary>
    public const int MaxEntries = 4096;

    private readonly Lock _gate = new();
    private readonly Queue<Entry> _entries = new();
    // The version of the newest entry queued.
    private long _last;
    private long _reused;
    private bool _broken;

    /// <summary>How many committed entries were taken from here instead of applied again (tests, diagnostics).</summary>
    public long Reused => Interlocked.Read(ref _reused);

    /// <summary>
    /// True once an entry was applied from the log instead: the replica's states are no longer the objects the kept
    /// results were computed on, so none of them can be used until the holder builds its tip again from the replica's
    /// state (<see cref="Restart"/>).
    /// </summary>
    public bool Broken
    {
        get
        {
            lock (_gate) return _broken;
        }
    }

    /// <summary>
    /// Keeps the result of applying <paramref name="mutation"/> (encoded as <paramref name="payload"/>) to
    /// <paramref name="before"/>, appended at <c>result.State.Version</c> in <paramref name="term"/>. Versions rise;
    /// a version at or below the newest kept drops everything kept first.
    /// </summary>
    public void Add(long term, FileSystemState before, Mutation mutation, byte[] payload, ApplyResult result)
    {
        var version = result.State.Version;
        lock (_gate)
        {
            if (_entries.Count > 0 && _last >= version) _entries.Clear();
            if (_entries.Count >= MaxEntries) return;
            _entries.Enqueue(new Entry(version, term, before, mutation, payload, result));
            _last = version;
        }
    }

    /// <summary>Forgets everything kept and starts a new chain (the holder rebuilds its tip from the replica's state).</summary>
    public void Restart()
    {
        lock (_gate)
        {
            _entries.Clear();
            _broken = false;
        }
    }

    /// <summary>
    /// The kept mutation and result for <paramref name="record"/> if they were computed on <paramref name="state"/>
    /// from this very record; older entries are dropped on the way.
    /// </summary>
    public bool TryTake(LogRecord record, FileSystemState state, out Mutation mutation, out ApplyResult result)
    {
        lock (_gate)
        {
            while (_entries.TryPeek(out var head) && head.Version < record.Version) _entries.Dequeue();
            if (_entries.TryPeek(out var entry) && entry.Version == record.Version)
            {
                _entries.Dequeue();
                if (entry.Term == record.Term && ReferenceEquals(entry.Before, state) && entry.Payload.AsSpan().SequenceEqual(record.Payload))
                {
                    mutation = entry.Mutation;
                    result = entry.Result;
                    _reused++;
                    return true;
                }
            }
            _broken = true;
        }
        mutation = null!;
        result = default;
        return false;
    }

    private readonly record struct Entry(long Version, long Term, FileSystemState Before, Mutation Mutation, byte[] Payload, ApplyResult Result);
}
