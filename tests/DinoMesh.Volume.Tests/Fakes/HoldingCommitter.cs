using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume.Tests.Fakes;

/// <summary>
/// A committer in front of a <see cref="MemoryCommitter"/> that keeps back the mutations a test picks until it lets
/// them go (a write waiting for its chunks' replication, a proposal lost to a holder change), while every other
/// mutation goes through at once. It counts what reached it, so a test can say how many commits were in flight.
/// </summary>
internal sealed class HoldingCommitter : IMetadataCommitter
{
    private readonly MemoryCommitter _inner;
    private readonly Func<Mutation, bool> _hold;
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _arrived;
    private int _held;

    public HoldingCommitter(MemoryCommitter inner, Func<Mutation, bool> hold)
    {
        _inner = inner;
        _hold = hold;
    }

    /// <summary>Mutations that reached this committer, held ones included.</summary>
    public int Arrived => Volatile.Read(ref _arrived);

    /// <summary>Mutations held now.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Throws instead of committing, for the mutations it says yes to.</summary>
    public Func<Mutation, bool> Throws { get; init; } = _ => false;

    public FileSystemState Current => _inner.Current;

    public PeerId Self => _inner.Self;

    public event Action<ApplyResult>? AppliedRemotely
    {
        add => _inner.AppliedRemotely += value;
        remove => _inner.AppliedRemotely -= value;
    }

    /// <summary>Lets every held mutation (and any held later) go on to the log.</summary>
    public void Release() => _released.TrySetResult();

    public async ValueTask<ApplyResult> CommitAsync(Mutation mutation, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _arrived);
        if (Throws(mutation)) throw new IOException("the committer failed");
        if (_hold(mutation))
        {
            Interlocked.Increment(ref _held);
            try
            {
                await _released.Task.WaitAsync(cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _held);
            }
        }
        return await _inner.CommitAsync(mutation, cancellationToken);
    }

    public ValueTask<FsError> SyncAsync(CancellationToken cancellationToken) => _inner.SyncAsync(cancellationToken);
}
