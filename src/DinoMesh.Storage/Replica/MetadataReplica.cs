using System.Buffers;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Metadata;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Storage.Replica;

/// <summary>
/// This node's copy of the metadata: the log on disk, the state it implies, and its snapshots. It applies only what a
/// commit policy tells it is committed, in version order, and raises <see cref="Applied"/> for each entry. A commit
/// policy (local, or the lease holder's replication) decides what is committed; the replica never does.
/// <para>
/// The listeners hear every change in version order and one at a time, even when several threads apply: a thread
/// that finds another announcing leaves its entries to that one (see <see cref="Announce"/>). A reader who waits for
/// a version waits for <see cref="AnnouncedVersion"/>, not <see cref="Current"/>: the state is published before its
/// listeners ran, and what they do (queue the kernel's cache invalidation, note a file changed elsewhere) is what
/// makes a read after the wait see the change.
/// </para>
/// </summary>
public sealed class MetadataReplica : IDisposable
{
    /// <summary>Entries between snapshots: bounds replay time at start-up.</summary>
    public const int DefaultSnapshotEvery = 100_000;

    private readonly Lock _applyGate = new();
    private readonly Lock _snapshotGate = new();
    private readonly ChunkStore _chunks;
    private readonly ILogger _logger;
    private FileSystemState _state;
    // Applied entries (Mutation set) and replaced states (Mutation null) the listeners have not heard yet, in version
    // order; guarded by _applyGate, as is _announcing (one thread raises events at a time).
    private readonly Queue<(Mutation? Mutation, ApplyResult Result)> _unannounced = new();
    private bool _announcing;
    private long _announced;
    private long _sinceSnapshot;
    private Task _snapshotTask = Task.CompletedTask;

    private MetadataReplica(MetadataLog log, ChunkStore chunks, FileSystemState state, ILogger logger)
    {
        Log = log;
        _chunks = chunks;
        _state = state;
        _logger = logger;
    }

    public MetadataLog Log { get; }

    /// <summary>The version of the snapshot <see cref="Open"/> started from (0: none).</summary>
    public long SnapshotVersion { get; private init; }

    /// <summary>The log entries <see cref="Open"/> replayed after the snapshot.</summary>
    public long Replayed { get; private init; }

    /// <summary>The newest committed state applied here; immutable, read without a lock.</summary>
    public FileSystemState Current => Volatile.Read(ref _state);

    public int SnapshotEvery { get; init; } = DefaultSnapshotEvery;

    /// <summary>Raised after each entry is applied, in version order, one at a time, outside any lock of the replica's.</summary>
    public event Action<Mutation, ApplyResult>? Applied;

    /// <summary>
    /// The newest version whose listeners have all run (<see cref="Applied"/>, <see cref="StateReplaced"/>): at or
    /// behind <see cref="Current"/>. A replaced state may move it back.
    /// </summary>
    public long AnnouncedVersion => Interlocked.Read(ref _announced);

    /// <summary>Raised with <see cref="AnnouncedVersion"/> once every listener of that version's change has run.</summary>
    public event Action<long>? Announced;

    /// <summary>
    /// Loads the newest snapshot and replays the log after it, up to <paramref name="replayUpTo"/>: entries past the
    /// last version known to be committed may still be replaced by a lease holder, so they wait until it says.
    /// <paramref name="snapshotEvery"/> is <see cref="SnapshotEvery"/> (benchmarks take a snapshot sooner).
    /// </summary>
    public static MetadataReplica Open(MetadataLog log, ChunkStore chunks, ILogger logger, long replayUpTo = long.MaxValue, int snapshotEvery = DefaultSnapshotEvery)
    {
        FileSystemState state;
        long snapshotVersion;
        // Decoded from the mapped file, a piece at a time: a large tree's snapshot is larger than any array.
        using (var snapshot = log.OpenSnapshot())
        {
            state = snapshot is null ? FileSystemState.Empty : StateSnapshotCodec.Decode(snapshot.State);
            snapshotVersion = snapshot?.Version ?? 0;
        }
        var replayed = 0;
        foreach (var record in log.ReadFrom(state.Version + 1))
        {
            if (record.Version > replayUpTo) break;
            var mutation = MutationCodec.Decode(record.Payload);
            var result = state.Apply(mutation);
            if (!result.Ok || result.Effect.Duplicate)
            {
                throw new InvalidDataException($"metadata log entry {record.Version} does not apply to the state at version {state.Version} ({result.Error}); the log is damaged");
            }
            state = result.State;
            replayed++;
        }
        // Not logged here: the node logs it once the cluster step passed, so a refused start stays one line.
        return new MetadataReplica(log, chunks, state, logger)
        {
            _announced = state.Version,
            _sinceSnapshot = replayed,
            SnapshotVersion = snapshotVersion,
            Replayed = replayed,
            SnapshotEvery = snapshotEvery,
        };
    }

    /// <summary>
    /// Publishes the result of an entry that is committed and already in the log at <c>Current.Version + 1</c>, whose
    /// result the caller computed on <see cref="Current"/> (the local policy appends and applies in one step).
    /// </summary>
    public void Publish(Mutation mutation, ApplyResult result)
    {
        lock (_applyGate)
        {
            if (result.State.Version != _state.Version + 1) throw new InvalidOperationException($"version {result.State.Version} published at {_state.Version}");
            Volatile.Write(ref _state, result.State);
            _unannounced.Enqueue((mutation, result));
        }
        Announce();
        AfterApply(1);
    }

    /// <summary>
    /// Applies committed entries from the log up to <paramref name="version"/> (the replicated path). An entry whose
    /// result the lease holder computed on this very state from this very record (<paramref name="ahead"/>) is taken
    /// from there instead of decoded and applied a second time. Returns how many changes this call announced: its own,
    /// and any another thread applied meanwhile and left to it; 0 when another thread is announcing (and will announce
    /// these too).
    /// </summary>
    public int ApplyCommitted(long version, AppliedAhead? ahead = null)
    {
        var applied = 0;
        lock (_applyGate)
        {
            var state = _state;
            var from = state.Version;
            if (version <= from) return 0;
            // The records just appended are in the log's memory: taken one by one, and the range read only for the rest.
            var next = state.Version + 1;
            for (; next <= version && Log.TryReadRecent(next, out var recent); next++) state = ApplyLocked(state, recent, ahead);
            if (next <= version)
            {
                foreach (var record in Log.ReadRange(next, version)) state = ApplyLocked(state, record, ahead);
            }
            applied = (int)(state.Version - from);
        }
        var announced = Announce();
        AfterApply(applied);
        return announced;
    }

    /// <summary>Applies one committed record to <paramref name="state"/> and publishes the result. Caller holds the apply gate.</summary>
    private FileSystemState ApplyLocked(FileSystemState state, LogRecord record, AppliedAhead? ahead)
    {
        if (ahead is null || !ahead.TryTake(record, state, out var mutation, out var result))
        {
            mutation = MutationCodec.Decode(record.Payload);
            result = state.Apply(mutation);
            if (!result.Ok) throw new InvalidDataException($"committed entry {record.Version} does not apply to version {state.Version} ({result.Error})");
        }
        Volatile.Write(ref _state, result.State);
        _unannounced.Enqueue((mutation, result));
        return result.State;
    }

    /// <summary>
    /// Raises the events of every change applied or replaced so far and not yet announced, in version order, outside
    /// the apply lock; returns how many it raised. While one thread announces, another returns at once (0) and the
    /// first takes its changes too, so listeners never hear a newer version before an older one, and no thread that
    /// applies waits for another's listeners.
    /// </summary>
    public int Announce()
    {
        var raised = 0;
        while (true)
        {
            (Mutation? Mutation, ApplyResult Result)[] batch;
            lock (_applyGate)
            {
                if (_announcing || _unannounced.Count == 0) return raised;
                _announcing = true;
                batch = [.. _unannounced];
                _unannounced.Clear();
            }
            try
            {
                foreach (var (mutation, result) in batch)
                {
                    if (mutation is null) StateReplaced?.Invoke(result);
                    else Applied?.Invoke(mutation, result);
                    Interlocked.Exchange(ref _announced, result.State.Version);
                    Announced?.Invoke(result.State.Version);
                    raised++;
                }
            }
            finally
            {
                lock (_applyGate) _announcing = false;
            }
        }
    }

    /// <summary>
    /// Replaces the state with a snapshot from a peer (a node too far behind to catch up from the log). What differs
    /// is announced as a replacement (<see cref="StateReplaced"/>) by the next <see cref="Announce"/>: the kernel may
    /// cache files the entries skipped over changed.
    /// </summary>
    public void InstallSnapshot(long term, byte[] snapshot) => InstallSnapshot(term, new ReadOnlySequence<byte>(snapshot));

    /// <summary>
    /// As <see cref="InstallSnapshot(long, byte[])"/>, from bytes in pieces (the node's path: the transfer's file,
    /// memory-mapped); they are decoded and copied to the log's snapshot file a piece at a time, never as one array.
    /// </summary>
    public void InstallSnapshot(long term, ReadOnlySequence<byte> snapshot) => InstallSnapshot(PrepareInstall(term, snapshot));

    /// <summary>
    /// The slow half of an install, which takes no lock of the replica's: decodes the snapshot, syncs the chunks it
    /// names (syncfs) and writes and syncs its copy as the log's next snapshot file, not yet current. A large tree's
    /// snapshot takes a minute here (2.5 GB); the lease driver runs this off its lock so the node keeps answering its
    /// peers meanwhile. Then <see cref="InstallSnapshot(PreparedSnapshot)"/>, or <see cref="Abandon"/>.
    /// </summary>
    public PreparedSnapshot PrepareInstall(long term, ReadOnlySequence<byte> snapshot)
    {
        var state = StateSnapshotCodec.Decode(snapshot);
        // The chunks it names must be durable before the snapshot is. syncfs flushes the whole filesystem (a little
        // more than needed is harmless); the install syncs again what came since.
        _chunks.SyncAll();
        var file = state.Version > Current.Version ? Log.BeginSnapshot(state.Version, term, stream => CopyTo(snapshot, stream)) : null;
        return new PreparedSnapshot(state, term, file);
    }

    /// <summary>
    /// The quick half of an install: the prepared snapshot's file becomes the log's current snapshot and its state
    /// replaces this one, unless this replica reached its version meanwhile (then the file goes).
    /// </summary>
    public void InstallSnapshot(PreparedSnapshot prepared)
    {
        var state = prepared.State;
        if (state.Version <= Current.Version || prepared.File is not { } file)
        {
            Abandon(prepared);
            return;
        }
        // Usually nothing: what was written since the preparation's syncfs.
        _chunks.SyncAll();
        lock (_applyGate)
        {
            if (state.Version <= _state.Version)
            {
                Log.AbandonSnapshot(file);
                return;
            }
            Log.CompleteSnapshot(file);
            var before = _state;
            Volatile.Write(ref _state, state);
            _unannounced.Enqueue((null, new ApplyResult(FsError.None, state, StateReplacement.Between(before, state))));
            _sinceSnapshot = 0;
        }
        _logger.LogInformation("metadata: installed a snapshot at version {Version} ({Inodes} inodes)", state.Version, state.Inodes.Count);
    }

    /// <summary>Drops what <see cref="PrepareInstall"/> wrote for an install that will not happen.</summary>
    public void Abandon(PreparedSnapshot prepared)
    {
        if (prepared.File is { } file) Log.AbandonSnapshot(file);
    }

    /// <summary>
    /// Raised, in order with <see cref="Applied"/>, for a state that did not come entry by entry (a snapshot installed
    /// or replaced), with what differs between the state dropped and the new one.
    /// </summary>
    public event Action<ApplyResult>? StateReplaced;

    /// <summary>
    /// Replaces the state and the whole log with the lease holder's snapshot, even when this node applied past it:
    /// its state holds changes a majority power loss took back, which the rest of the cluster no longer has. What
    /// differs is announced (<see cref="StateReplaced"/>) by the next <see cref="Announce"/>, which the caller makes
    /// once it holds no lock a listener may need.
    /// </summary>
    public ApplyResult ReplaceState(long term, byte[] snapshot) => ReplaceState(term, new ReadOnlySequence<byte>(snapshot));

    /// <summary>As <see cref="ReplaceState(long, byte[])"/>, from bytes in pieces (the node's path, as <see cref="InstallSnapshot(long, ReadOnlySequence{byte})"/>).</summary>
    public ApplyResult ReplaceState(long term, ReadOnlySequence<byte> snapshot) => ReplaceState(term, StateSnapshotCodec.Decode(snapshot), snapshot);

    /// <summary>As <see cref="ReplaceState(long, ReadOnlySequence{byte})"/>, with the snapshot already decoded into <paramref name="state"/>.</summary>
    public ApplyResult ReplaceState(long term, FileSystemState state, ReadOnlySequence<byte> snapshot)
    {
        _chunks.SyncAll();
        FileSystemState before;
        Effect effect;
        lock (_applyGate)
        {
            before = _state;
            Log.ReplaceWithSnapshot(state.Version, term, stream => CopyTo(snapshot, stream));
            Volatile.Write(ref _state, state);
            effect = StateReplacement.Between(before, state);
            _unannounced.Enqueue((null, new ApplyResult(FsError.None, state, effect)));
            _sinceSnapshot = 0;
        }
        _logger.LogWarning("metadata: replaced this node's state (version {Before}) with the lease holder's snapshot at version {Version}: "
            + "it held changes a power loss of a majority took back; {Touched} inodes and {Entries} names differ",
            before.Version, state.Version, effect.Touched.Count + effect.Removed.Count, effect.Entries.Count);
        return new ApplyResult(FsError.None, state, effect);
    }

    private static void CopyTo(ReadOnlySequence<byte> bytes, Stream stream)
    {
        foreach (var piece in bytes) stream.Write(piece.Span);
    }

    /// <summary>Chunks first, then the log: a durable entry must never point at a chunk that a power cut could lose.</summary>
    public FsError Sync()
    {
        try
        {
            _chunks.SyncAll();
            Log.Sync();
            return FsError.None;
        }
        catch (IOException e)
        {
            _logger.LogError("metadata: sync failed: {Error}", e.Message);
            return e is LogFullException || e.HResult == (int)FsError.NoSpace ? FsError.NoSpace : FsError.Io;
        }
    }

    private void AfterApply(int count)
    {
        if (count == 0) return;
        if (Interlocked.Add(ref _sinceSnapshot, count) < SnapshotEvery) return;
        lock (_snapshotGate)
        {
            if (!_snapshotTask.IsCompleted || Interlocked.Read(ref _sinceSnapshot) < SnapshotEvery) return;
            Interlocked.Exchange(ref _sinceSnapshot, 0);
            var state = Current;
            // Encoded on the thread pool: commits go on while a large tree is written out.
            _snapshotTask = Task.Run(() => TrySnapshot(state, final: false));
        }
    }

    /// <summary>Writes a snapshot of the current state now (tests, tools).</summary>
    public void Snapshot()
    {
        lock (_snapshotGate)
        {
            _snapshotTask.Wait();
            WriteSnapshot(Current);
        }
    }

    /// <summary>
    /// Writes a snapshot and never throws: it runs on a task nobody observes (or in <see cref="Dispose"/>), so every
    /// failure is logged here, once, in one line. The log is complete without the snapshot (it only shortens the next
    /// start's replay), commits go on, and the next snapshot, <see cref="SnapshotEvery"/> entries on, tries again.
    /// </summary>
    private void TrySnapshot(FileSystemState state, bool final)
    {
        try
        {
            WriteSnapshot(state);
        }
        catch (Exception e)
        {
            var which = final ? "final " : "";
            if (e is IOException or Microsoft.Data.Sqlite.SqliteException)
            {
                // A full or failing disk: expected now and then.
                _logger.LogWarning("metadata: {Which}snapshot skipped: {Error}", which, e.Message);
                return;
            }
            // Anything else is a defect (the codec, a chunk sync, a hook): said as an error, the stack at Debug.
            _logger.LogError("metadata: {Which}snapshot at version {Version} failed: {Type}: {Error}; the log is complete without it, the next snapshot tries again",
                which, state.Version, e.GetType().Name, e.Message);
            _logger.LogDebug(e, "metadata: the {Which}snapshot's failure", which);
        }
    }

    private void WriteSnapshot(FileSystemState state)
    {
        if (state.Version == 0 || state.Version <= Log.SnapshotVersion) return;
        // The snapshot is durable when saved, so the chunks it points at must be first.
        _chunks.SyncAll();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var previous = Log.SnapshotVersion;
        long bytes = 0;
        // Encoded straight into the file, a piece at a time: a large tree's snapshot does not fit in an array.
        Log.SaveSnapshot(state.Version, Log.TermAt(state.Version), stream => bytes = StateSnapshotCodec.Encode(state, stream));
        // Entries up to the previous snapshot can go: one interval stays for replicas that are a little behind, and
        // the log's open no longer scans everything ever appended.
        if (previous > 0) Log.TruncatePrefix(previous);
        _logger.LogInformation("metadata: snapshot at version {Version} ({Bytes} bytes; encoded and written in {Total:F0} ms)",
            state.Version, bytes, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>Waits for a snapshot in progress and writes a final one if anything was applied since the last.</summary>
    public void Dispose()
    {
        lock (_snapshotGate)
        {
            // Never faulted: TrySnapshot logs every failure itself.
            _snapshotTask.Wait();
            if (Current.Version > Log.SnapshotVersion) TrySnapshot(Current, final: true);
        }
    }
}
