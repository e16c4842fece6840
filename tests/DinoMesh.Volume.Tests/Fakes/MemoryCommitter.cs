using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume.Tests.Fakes;

/// <summary>
/// The metadata log of one node, in memory: each mutation is applied to the <see cref="FileSystemState"/> in the order
/// it arrives, as the local commit policy and the lease holder do. It keeps what was committed, so a test can say
/// "one WriteExtents", and can slip another node's mutation in just before the next one of this node (a remote change
/// the proposer had not seen when it built its mutation).
/// </summary>
internal sealed class MemoryCommitter : IMetadataCommitter
{
    public static readonly PeerId Other = new(new string('b', 64));

    private readonly Lock _gate = new();
    private readonly List<Mutation> _committed = [];
    private readonly Queue<Func<FileSystemState, MutationKind>> _interjections = new();
    private FileSystemState _state;

    public MemoryCommitter(PeerId self, long genesisNs)
    {
        Self = self;
        _state = FileSystemState.Genesis(genesisNs, self);
    }

    public FileSystemState Current => Volatile.Read(ref _state);

    public PeerId Self { get; }

    public event Action<ApplyResult>? AppliedRemotely;

    /// <summary>The mutations this node committed (refused ones are not kept), in order.</summary>
    public IReadOnlyList<Mutation> Committed
    {
        get
        {
            lock (_gate) return [.. _committed];
        }
    }

    /// <summary>The committed kinds of <typeparamref name="T"/>, in order.</summary>
    public IReadOnlyList<T> CommittedOf<T>() where T : MutationKind => [.. Committed.Select(m => m.Kind).OfType<T>()];

    /// <summary>The next commit of this node is applied after <paramref name="kind"/>, proposed by <see cref="Other"/>.</summary>
    public void BeforeNextCommit(Func<FileSystemState, MutationKind> kind)
    {
        lock (_gate) _interjections.Enqueue(kind);
    }

    /// <summary>
    /// While set, a commit of this node whose kind it answers with an error is refused with that error and changes
    /// nothing, as a commit that timed out on a minority side of a partition (ETIMEDOUT) or hit a full log (ENOSPC).
    /// </summary>
    public Func<MutationKind, FsError?>? Refuse { get; set; }

    /// <summary>While set, this node cannot learn the cluster's commit version (cut off from the holder).</summary>
    public bool CutOffFromHolder { get; set; }

    public ValueTask<bool> StrictReadBarrierAsync(CancellationToken cancellationToken) => ValueTask.FromResult(!CutOffFromHolder);

    /// <summary>Applies a change <see cref="Other"/> committed, as one arriving from the log, and raises its event.</summary>
    public ApplyResult ApplyRemote(MutationKind kind)
    {
        var applied = PublishRemote(kind);
        Announce(applied);
        return applied;
    }

    /// <summary>
    /// Applies a change <see cref="Other"/> committed and publishes its state, without raising its event yet: a replica
    /// publishes a change's state before its listeners run (<see cref="Announce"/> runs them).
    /// </summary>
    public ApplyResult PublishRemote(MutationKind kind)
    {
        ApplyResult applied;
        lock (_gate)
        {
            applied = _state.Apply(new Mutation { Kind = kind, TimeNs = _state.Version + 1_700_000_000_000_000_000, Proposer = Other });
            if (!applied.Ok) throw new InvalidOperationException($"the remote {kind.GetType().Name} was refused: {applied.Error}");
            Volatile.Write(ref _state, applied.State);
        }
        return applied;
    }

    /// <summary>Raises the event of a change <see cref="PublishRemote"/> published.</summary>
    public void Announce(ApplyResult applied) => AppliedRemotely?.Invoke(applied);

    public ValueTask<ApplyResult> CommitAsync(Mutation mutation, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Refuse?.Invoke(mutation.Kind) is { } refused) return ValueTask.FromResult(ApplyResult.Fail(refused, Current));
        ApplyResult? remote = null;
        ApplyResult result;
        lock (_gate)
        {
            if (_interjections.TryDequeue(out var interject))
            {
                var foreign = new Mutation { Kind = interject(_state), TimeNs = mutation.TimeNs, Proposer = Other };
                var applied = _state.Apply(foreign);
                if (!applied.Ok) throw new InvalidOperationException($"the interjected {foreign.KindName} was refused: {applied.Error}");
                _state = applied.State;
                remote = applied;
            }
            result = _state.Apply(mutation);
            if (result.Ok)
            {
                Volatile.Write(ref _state, result.State);
                _committed.Add(mutation);
            }
        }
        if (remote is { } r) AppliedRemotely?.Invoke(r);
        return ValueTask.FromResult(result);
    }

    /// <summary>How many times the volume asked for everything committed to be made durable (fsync).</summary>
    public int Syncs => Volatile.Read(ref _syncs);

    private int _syncs;

    public ValueTask<FsError> SyncAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _syncs);
        return ValueTask.FromResult(FsError.None);
    }
}
