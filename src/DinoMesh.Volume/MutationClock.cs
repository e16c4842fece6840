using System.Security.Cryptography;
using DinoMesh.Core.Wire;
using Google.Protobuf;

namespace DinoMesh.Volume;

/// <summary>Stamps mutations with this process's op ids (client id + sequence) and the current time.</summary>
public sealed class MutationClock
{
    private readonly ByteString _client = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(16));
    private readonly TimeProvider _time;
    private long _seq;

    public MutationClock(TimeProvider time) => _time = time;

    /// <summary>Now, in nanoseconds since the epoch (100 ns resolution from the system clock).</summary>
    public long NowNs() => (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    public Mutation Stamp(Mutation mutation, uint uid, uint gid)
    {
        mutation.Op = new OpId { Client = _client, Seq = (ulong)Interlocked.Increment(ref _seq) };
        if (mutation.TimeNs == 0) mutation.TimeNs = NowNs();
        mutation.CallerUid = uid;
        mutation.CallerGid = gid;
        return mutation;
    }
}
