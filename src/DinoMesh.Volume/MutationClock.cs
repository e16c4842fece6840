using System.Security.Cryptography;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume;

/// <summary>Stamps mutations with this process's op ids (client id + sequence), the current time and this node's id.</summary>
public sealed class MutationClock
{
    private readonly byte[] _client = RandomNumberGenerator.GetBytes(16);
    private readonly TimeProvider _time;
    private readonly PeerId _self;
    private long _seq;

    public MutationClock(TimeProvider time, PeerId self)
    {
        _time = time;
        _self = self;
    }

    /// <summary>Now, in nanoseconds since the epoch (100 ns resolution from the system clock).</summary>
    public long NowNs() => (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>A mutation of <paramref name="kind"/> by the caller <paramref name="uid"/>/<paramref name="gid"/>, at <paramref name="timeNs"/> (default now).</summary>
    public Mutation Stamp(MutationKind kind, uint uid, uint gid, long timeNs = 0, uint[]? groups = null) => new()
    {
        Kind = kind,
        Op = new OpId(_client, (ulong)Interlocked.Increment(ref _seq)),
        TimeNs = timeNs != 0 ? timeNs : NowNs(),
        CallerUid = uid,
        CallerGid = gid,
        CallerGroups = groups,
        Proposer = _self,
    };
}
