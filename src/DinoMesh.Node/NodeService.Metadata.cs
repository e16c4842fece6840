using System.Diagnostics;
using System.Security.Cryptography;
using DinoMesh.Cluster.Lease;
using DinoMesh.Cluster.Membership;
using DinoMesh.Cluster.Node;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Volume;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Node;

// The shared tree: the lease driver on this node's log and the transport, and the committer the volume uses.
public sealed partial class NodeService
{
    private LeaseDriver? _lease;
    private TransportLeaseNetwork? _leaseNetwork;

    /// <summary>How long a new node waits for the volume's log to reach it before it gives up starting.</summary>
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromMinutes(5);

    private async Task<ClusterCommitter> StartSharedMetadataAsync(MutationClock clock, CancellationToken cancellationToken)
    {
        var cluster = _cluster!;
        var replica = _replica!;
        var logger = _loggers.CreateLogger("lease");
        if (!replica.Current.HasGenesis && replica.Log.LastVersion == 0 && cluster.Founded)
        {
            var genesis = new Mutation { Kind = new Genesis(RandomNumberGenerator.GetBytes(16), cluster.Self), TimeNs = clock.NowNs(), Proposer = cluster.Self };
            LeaseDriver.Found(replica, genesis);
            _logger.LogInformation("metadata: founded volume {Volume}", Convert.ToHexStringLower(replica.Current.VolumeId));
        }
        _leaseNetwork = new TransportLeaseNetwork(cluster.Transport, AddressOf, (peer, answers) => _lease?.Receive(peer, answers), logger);
        var machine = HiddenSettings.SnapshotPieceBytes is { } pieceBytes ? LeaseConfig.Default with { SnapshotPieceBytes = pieceBytes } : LeaseConfig.Default;
        var lease = new LeaseDriver(cluster.Self, replica, _leaseNetwork, new LeaseTiming { CommitTimeout = _options.CommitTimeout, Machine = machine }, logger);
        lease.SetMembership(IsAlive, () => [.. cluster.Admitted.Snapshot().Select(p => (new PeerId(p.Id), p.Address))]);
        EvictRemoved(replica.Current);
        foreach (var (peer, address) in replica.Current.Members) cluster.Admitted.Admit(peer, address);
        cluster.Admitted.Advance(replica.Current.Version);
        var lastSeen = replica.Current.Version;
        void OnMembership(ApplyResult result, bool replaced)
        {
            // A state that did not come entry by entry (a snapshot installed, or replaced) may name members no entry
            // announced: admit the whole set then too, before the version below says this node knows them.
            var jumped = result.State.Version != Interlocked.Exchange(ref lastSeen, result.State.Version) + 1;
            if (result.Effect.MembersChanged || replaced || jumped)
            {
                var state = replica.Current;
                EvictRemoved(state);
                foreach (var (peer, address) in state.Members) cluster.Admitted.Admit(peer, address);
            }
            if (result.Effect.MembersChanged) lease.MembersChanged();
            // Only once the entry's members are admitted: a peer waiting on this version is then decided on them.
            cluster.Admitted.Advance(result.State.Version);
        }
        replica.Applied += (_, result) => OnMembership(result, replaced: false);
        replica.StateReplaced += result => OnMembership(result, replaced: true);
        lease.Failed += failure =>
        {
            // While the node stops, its log closes under whatever input is still on its way: not a failure.
            if (_lifetime.ApplicationStopping.IsCancellationRequested) return;
            // Fail-stop: a node whose log may not hold what its lease machine believes must not go on answering.
            Failure = $"the metadata log failed under the lease ({failure.Message}); restart the node to recover from its log";
            _lifetime.StopApplication();
        };
        lease.Start(replica.Current.Members.Keys);
        _lease = lease;
        // A peer presenting an admission this node has not learnt of asks the holder, which has it, for the member set.
        cluster.HolderForMembers = () => lease.Status.Holder;
        var committer = new ClusterCommitter(lease, replica, _leaseNetwork, _loggers.CreateLogger("metadata"));
        if (!replica.Current.HasGenesis) await WaitForVolumeAsync(replica, cancellationToken);
        // From here a join through this node is admitted by a log entry, and answered with its version.
        cluster.CommitAdmission = (peer, address, ct) => CommitAdmissionAsync(committer, replica, clock, peer, address, ct);
        return committer;
    }

    /// <summary>
    /// Commits <c>AdmitMember</c> for a newcomer and returns its version with the log's members once this node has
    /// applied it; null when it could not be committed (no holder with a majority within the commit timeout, or the
    /// log refused it), and the join is then admitted without a version.
    /// </summary>
    private async Task<CommittedAdmission?> CommitAdmissionAsync(ClusterCommitter committer, Storage.Replica.MetadataReplica replica, MutationClock clock,
        PeerId peer, string address, CancellationToken cancellationToken)
    {
        // Already in the log (a retried join, or the holder's own proposal got there first): admitted at or before now.
        if (replica.Current is { } current && current.Members.ContainsKey(peer))
        {
            return new CommittedAdmission(current.Version, [.. current.Members.Select(m => (m.Key, m.Value))]);
        }
        try
        {
            var result = await clock.CommitAsync(committer, new AdmitMember(peer, address), 0, 0, cancellationToken);
            if (!result.Ok)
            {
                _logger.LogWarning("metadata: the admission of {Peer} was not committed ({Error}); admitting it without a log version", peer.Short, result.Error);
                return null;
            }
            // The committer answers once this node applied the entry, so its state holds every member up to it.
            return new CommittedAdmission(result.State.Version, [.. replica.Current.Members.Select(m => (m.Key, m.Value))]);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>A node that joined has no volume until the holder's log (or a snapshot) reaches it: wait, bounded.</summary>
    private async Task WaitForVolumeAsync(Storage.Replica.MetadataReplica replica, CancellationToken cancellationToken)
    {
        _logger.LogInformation("metadata: waiting for the volume's log from the lease holder");
        var started = Stopwatch.GetTimestamp();
        while (!replica.Current.HasGenesis)
        {
            if (Stopwatch.GetElapsedTime(started) > CatchUpTimeout)
            {
                throw new StartupException($"the volume's metadata did not reach this node within {CatchUpTimeout.TotalMinutes:F0} minutes; is a majority of the cluster's voters running? (see `dino-node peers` on a member)");
            }
            await Task.Delay(100, cancellationToken);
        }
        _logger.LogInformation("metadata: caught up at version {Version} ({Inodes} inodes)", replica.Current.Version, replica.Current.Inodes.Count);
    }

    /// <summary>Members the log removed are refused by this node's transport, whatever cluster.json remembers.</summary>
    private void EvictRemoved(FileSystemState state)
    {
        foreach (var peer in state.Evicted)
        {
            if (_cluster!.Admitted.Evict(peer)) _logger.LogWarning("member {Peer} was removed from the cluster: its requests are refused from now on", peer.Short);
        }
    }

    private string? AddressOf(PeerId peer) =>
        _cluster?.Admitted.AddressOf(peer) is { Length: > 0 } address ? address
        : _replica?.Current.Members.GetValueOrDefault(peer) is { Length: > 0 } logged ? logged
        : _cluster?.Membership.Members.FirstOrDefault(m => m.Id == peer)?.Address;

    private bool IsAlive(PeerId peer)
    {
        if (_cluster is not { } cluster) return false;
        if (peer == cluster.Self) return true;
        var member = cluster.Membership.Members.FirstOrDefault(m => m.Id == peer);
        return member is { Status: MemberStatus.Alive or MemberStatus.Suspect };
    }
}
