using System.Security.Cryptography;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Storage.Metadata;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Storage.Replica;

/// <summary>
/// The single-node commit policy: checks each mutation against the replica's state with the pure apply function,
/// appends it to the log under the next version, then publishes the new state. The log write happens before the new
/// state becomes visible, so nothing a caller saw can be lost by a process crash.
/// </summary>
public sealed class LocalCommitter : IMetadataCommitter
{
    private readonly Lock _gate = new();
    private readonly MetadataReplica _replica;
    private readonly ILogger _logger;

    private LocalCommitter(MetadataReplica replica, PeerId self, ILogger logger)
    {
        _replica = replica;
        Self = self;
        _logger = logger;
    }

    public FileSystemState Current => _replica.Current;

    public PeerId Self { get; }

    /// <summary>Nothing is proposed elsewhere on a single node.</summary>
    public event Action<ApplyResult>? AppliedRemotely { add { } remove { } }

    /// <summary>Commits through <paramref name="replica"/>; founds the volume (its genesis entry) when the log is empty.</summary>
    public static LocalCommitter Open(MetadataReplica replica, PeerId self, long nowNs, ILogger logger)
    {
        var committer = new LocalCommitter(replica, self, logger);
        if (!replica.Current.HasGenesis)
        {
            var genesis = new Mutation { Kind = new Genesis(RandomNumberGenerator.GetBytes(16), self), TimeNs = nowNs, Proposer = self };
            var result = committer.Commit(genesis);
            if (!result.Ok) throw new IOException($"cannot found the volume: {result.Error}");
            logger.LogInformation("metadata: founded volume {Volume}", Convert.ToHexStringLower(result.State.VolumeId));
        }
        return committer;
    }

    public ValueTask<ApplyResult> CommitAsync(Mutation mutation, CancellationToken cancellationToken) => ValueTask.FromResult(Commit(mutation));

    private ApplyResult Commit(Mutation mutation)
    {
        lock (_gate)
        {
            var result = _replica.Current.Apply(mutation);
            if (!result.Ok || result.Effect.Duplicate) return result;
            try
            {
                _replica.Log.Append(result.State.Version, 0, MutationCodec.Encode(mutation));
            }
            catch (IOException e)
            {
                // Not appended, so not applied: the state stays as it was and the caller gets an errno.
                _logger.LogError("metadata: cannot append version {Version}: {Error}", result.State.Version, e.Message);
                return ApplyResult.Fail(e is LogFullException ? FsError.NoSpace : FsError.Io, _replica.Current);
            }
            _replica.Publish(mutation, result);
            return result;
        }
    }

    public ValueTask<FsError> SyncAsync(CancellationToken cancellationToken) => ValueTask.FromResult(_replica.Sync());
}
