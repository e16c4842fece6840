using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Metadata;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Volume;

/// <summary>
/// The single-node committer: checks each mutation against the current state with the pure apply function, appends
/// it to the durable log under the next version, then publishes the new state. The log write happens before the new
/// state becomes visible, so nothing a caller saw can be lost by a process crash.
/// </summary>
public sealed class LocalCommitter : IMetadataCommitter, IDisposable
{
    private const string GenesisKey = "genesis-time-ns";

    /// <summary>Entries between snapshots: bounds replay time at start-up.</summary>
    private const int SnapshotEvery = 100_000;

    private readonly Lock _gate = new();
    private readonly MetadataLog _log;
    private readonly ChunkStore _chunks;
    private readonly ILogger _logger;
    private FileSystemState _state;
    private long _sinceSnapshot;

    private LocalCommitter(MetadataLog log, ChunkStore chunks, FileSystemState state, ILogger logger)
    {
        _log = log;
        _chunks = chunks;
        _state = state;
        _logger = logger;
    }

    public FileSystemState Current => Volatile.Read(ref _state);

    public event Action<ApplyResult>? AppliedRemotely { add { } remove { } }

    /// <summary>Loads the newest snapshot and replays the log after it.</summary>
    public static LocalCommitter Open(MetadataLog log, ChunkStore chunks, MutationClock clock, ILogger logger)
    {
        var genesisBytes = log.Get(GenesisKey);
        long genesis;
        if (genesisBytes is { Length: 8 }) genesis = BitConverter.ToInt64(genesisBytes);
        else
        {
            genesis = clock.NowNs();
            log.Set(GenesisKey, BitConverter.GetBytes(genesis));
        }
        var snapshot = log.LoadSnapshot();
        var state = snapshot is null
            ? FileSystemState.Genesis(genesis)
            : StateSnapshotCodec.FromSnapshot(StateSnapshot.Parser.ParseFrom(snapshot.State));
        var replayed = 0;
        foreach (var record in log.ReadFrom(state.Version + 1))
        {
            var mutation = Mutation.Parser.ParseFrom(record.Payload);
            var result = state.Apply(mutation);
            if (!result.Ok)
            {
                throw new InvalidDataException($"metadata log entry {record.Version} does not apply to the state at version {state.Version} ({result.Error}); the log is damaged");
            }
            state = result.State;
            replayed++;
        }
        return new LocalCommitter(log, chunks, state, logger) { _sinceSnapshot = replayed, SnapshotVersion = snapshot?.Version ?? 0, Replayed = replayed };
    }

    /// <summary>The version of the snapshot <see cref="Open"/> started from (0: none).</summary>
    public long SnapshotVersion { get; private init; }

    /// <summary>The log entries <see cref="Open"/> replayed after the snapshot.</summary>
    public long Replayed { get; private init; }

    public ValueTask<ApplyResult> CommitAsync(Mutation mutation, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var result = _state.Apply(mutation);
            if (!result.Ok || result.Effect.Duplicate) return ValueTask.FromResult(result);
            try
            {
                _log.Append(result.State.Version, 0, mutation.ToByteArray(), mayUseReserve: FreesSpace(mutation));
            }
            catch (IOException e)
            {
                // Not appended, so not applied: the state stays as it was and the caller gets an errno.
                _logger.LogError("metadata: cannot append version {Version}: {Error}", result.State.Version, e.Message);
                return ValueTask.FromResult(ApplyResult.Fail(e is LogFullException ? FsError.NoSpace : FsError.Io, _state));
            }
            Volatile.Write(ref _state, result.State);
            if (++_sinceSnapshot >= SnapshotEvery) TrySnapshotLocked();
            return ValueTask.FromResult(result);
        }
    }

    /// <summary>
    /// The changes that may use the log's reserve on a full disk (see <c>MetadataLog.DefaultReserve</c>): those that
    /// let a user empty a full volume from inside. Everything else gets ENOSPC once the disk is full.
    /// </summary>
    private static bool FreesSpace(Mutation mutation) => mutation.KindCase switch
    {
        Mutation.KindOneofCase.Remove or Mutation.KindOneofCase.Rename or Mutation.KindOneofCase.Reclaim => true,
        Mutation.KindOneofCase.SetAttributes => mutation.SetAttributes.HasSize && mutation.SetAttributes.Size == 0,
        _ => false,
    };

    public ValueTask<FsError> SyncAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Chunks first: a durable log entry must never point at a chunk that a power cut could lose.
            _chunks.SyncAll();
            _log.Sync();
            return ValueTask.FromResult(FsError.None);
        }
        catch (IOException e)
        {
            _logger.LogError("metadata: sync failed: {Error}", e.Message);
            return ValueTask.FromResult(e is LogFullException || e.HResult == (int)FsError.NoSpace ? FsError.NoSpace : FsError.Io);
        }
    }

    /// <summary>The periodic snapshot: its failure must not fail the mutation that was just committed.</summary>
    private void TrySnapshotLocked()
    {
        try
        {
            SnapshotLocked();
        }
        catch (Exception e) when (e is IOException or Microsoft.Data.Sqlite.SqliteException)
        {
            _sinceSnapshot = 0;
            _logger.LogWarning("metadata: snapshot skipped: {Error}", e.Message);
        }
    }

    /// <summary>Writes a snapshot of the current state so the next start replays little.</summary>
    public void Snapshot()
    {
        lock (_gate) SnapshotLocked();
    }

    private void SnapshotLocked()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        // The snapshot is durable when saved, so the chunks it points at must be first.
        _chunks.SyncAll();
        long previous = _log.SnapshotVersion;
        _log.SaveSnapshot(_state.Version, StateSnapshotCodec.ToSnapshot(_state).ToByteArray());
        _sinceSnapshot = 0;
        // Entries up to the previous snapshot can go: one interval stays for replicas that are a little behind, and
        // the log's open no longer scans everything ever appended.
        if (previous > 0) _log.TruncatePrefix(previous);
        _logger.LogInformation("metadata: snapshot at version {Version} in {Ms:F0} ms", _state.Version, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_sinceSnapshot == 0) return;
            try
            {
                SnapshotLocked();
            }
            catch (Exception e) when (e is IOException or Microsoft.Data.Sqlite.SqliteException)
            {
                // The log is complete without it; a snapshot only shortens the next start's replay.
                _logger.LogWarning("metadata: final snapshot skipped: {Error}", e.Message);
            }
        }
    }
}
