using System.Security.Cryptography;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume;

/// <summary>
/// Stamps mutations with this process's op ids (client id + sequence), the current time and this node's id, and
/// commits them. The two go together: a sequence is taken only when the client's op window has room for it
/// (<see cref="OpWindowGate"/>) and given back when its commit is over, so the log never takes a mutation still in
/// flight for an old retry (<see cref="FileSystemState.OpWindow"/>).
/// </summary>
public sealed class MutationClock
{
    private readonly byte[] _client = RandomNumberGenerator.GetBytes(16);
    private readonly TimeProvider _time;
    private readonly PeerId _self;
    private readonly OpWindowGate _window = new(FileSystemState.OpWindow);

    public MutationClock(TimeProvider time, PeerId self)
    {
        _time = time;
        _self = self;
    }

    /// <summary>This client's commits under way, for tests.</summary>
    internal int InFlight => _window.InFlight;

    /// <summary>Commits that wait for room in this client's op window, for tests.</summary>
    internal int Waiting => _window.Waiting;

    /// <summary>Now, in nanoseconds since the epoch (100 ns resolution from the system clock).</summary>
    public long NowNs() => (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>
    /// Commits a mutation of <paramref name="kind"/> by the caller <paramref name="uid"/>/<paramref name="gid"/>, at
    /// <paramref name="timeNs"/> (default: now, once its op id is taken), through <paramref name="meta"/>. Waits first
    /// while <see cref="FileSystemState.OpWindow"/> sequences of this client sit above the oldest one still in flight;
    /// cancelled then, nothing was proposed.
    /// </summary>
    public async ValueTask<ApplyResult> CommitAsync(IMetadataCommitter meta, MutationKind kind, uint uid, uint gid, CancellationToken cancellationToken,
        long timeNs = 0, uint[]? groups = null)
    {
        var seq = await _window.EnterAsync(cancellationToken);
        try
        {
            return await meta.CommitAsync(Stamp(seq, kind, uid, gid, timeNs, groups), cancellationToken);
        }
        finally
        {
            // Success, refusal, timeout, cancellation or a throw: the commit is over and will not be retried from here.
            _window.Exit(seq);
        }
    }

    private Mutation Stamp(ulong seq, MutationKind kind, uint uid, uint gid, long timeNs, uint[]? groups) => new()
    {
        Kind = kind,
        Op = new OpId(_client, seq),
        TimeNs = timeNs != 0 ? timeNs : NowNs(),
        CallerUid = uid,
        CallerGid = gid,
        CallerGroups = groups,
        Proposer = _self,
    };
}
