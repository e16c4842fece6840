using System.Reflection;
using System.Runtime.InteropServices;
using DinoMesh.Cluster.Membership;
using DinoMesh.Node.Control;
using DinoMesh.Storage;
using DinoMesh.Volume;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Node;

// The control socket's commands (status, peers, token, leave) and the snapshot behind the status page.
public sealed partial class NodeService
{
    /// <summary>The product version (the assembly's informational version, without the source revision).</summary>
    public static readonly string Version =
        (typeof(NodeService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    private async ValueTask<object?> HandleControlAsync(string command, CancellationToken cancellationToken)
    {
        var cluster = _cluster ?? throw new ControlCommandException("the node is still starting");
        switch (command)
        {
            case "peers":
                // Members' stored bytes are asked only when someone looks: a first look waits a moment for the answers.
                if (_chunkService is { } chunks) await chunks.PeerUsage.LookAsync(TimeSpan.FromSeconds(2), cancellationToken);
                return Peers();
            case "status":
                {
                    // Applied means visible through the mount: the version whose listeners all ran (announced), once
                    // the kernel was told what those changes made stale (the invalidator writes on its own task).
                    var announced = _replica?.AnnouncedVersion;
                    if (_fs is { } fs) await fs.WaitForInvalidationsAsync(TimeSpan.FromSeconds(1), cancellationToken);
                    return Status(announced);
                }
            case "token":
                return new TokenAnswer(cluster.Token, cluster.ClusterId, JoinCommand.For(cluster.Advertise, cluster.Token, _mount?.MountPoint ?? _options.MountPoint));
            case "statehash":
                {
                    var state = _committer?.Current ?? throw new ControlCommandException("the node is still starting");
                    return new StateHashAnswer(state.Version, DinoMesh.Core.Metadata.StateSnapshotCodec.StateHash(state));
                }
            case var _ when command.StartsWith("remove ", StringComparison.Ordinal):
                return await RemoveMemberAsync(command["remove ".Length..].Trim(), cancellationToken);
            case "leave":
                _logger.LogInformation("leave requested through the control socket");
                _leaving = true;
                await HandOffLeaseAsync();
                await cluster.LeaveAsync(cancellationToken);
                _lifetime.StopApplication();
                return new LeftAnswer(true);
            default:
                throw new ControlCommandException($"unknown command '{command}' (known: status, peers, token, leave, remove PEER, statehash)");
        }
    }

    /// <summary>What the status page shows: this node's status and its view of the members; null while starting.</summary>
    public (NodeStatus Status, IReadOnlyList<PeerRow> Peers)? Snapshot()
    {
        if (_cluster is null) return null;
        // The page refreshes itself: it shows the answers of the last round and asks for the next.
        _chunkService?.PeerUsage.Request();
        return (Status(), Peers());
    }

    /// <summary>The lease driver, once the metadata layer runs (for metrics).</summary>
    public DinoMesh.Cluster.Lease.LeaseDriver? Lease => _lease;

    /// <summary>Lifeguard's local health score of this node (0 = healthy), once the cluster runs (for metrics).</summary>
    public int? LocalHealth => _cluster?.Membership.LocalHealth;

    /// <summary>" --data-dir D" when the node runs on a data directory the control commands would not find by default.</summary>
    private string DataDirArgument() =>
        Path.GetFullPath(DataDirectory.DefaultPath()) == Path.GetFullPath(_options.DataDirectory) ? "" : " --data-dir " + JoinCommand.ShellWord(_options.DataDirectory);

    private List<PeerRow> Peers()
    {
        var cluster = _cluster!;
        var now = cluster.Membership.Now;
        var wallNow = DateTimeOffset.UtcNow;
        var links = cluster.Transport.Links.Where(l => !l.Peer.IsEmpty).GroupBy(l => l.Peer).ToDictionary(g => g.Key, g => g.OrderByDescending(l => l.LastSuccess).First());
        var applied = _committer?.Current.Version;
        var lease = _lease?.Status;
        var rows = new List<PeerRow>();
        foreach (var m in cluster.Membership.Members)
        {
            var self = m.Id == cluster.Self;
            links.TryGetValue(m.Id, out var link);
            var rtt = self ? null : m.RoundTrip ?? link?.LastRtt;
            DateTimeOffset? lastSeen = self ? wallNow : m.LastHeard is { } heard ? wallNow - (now - heard) : link?.LastSuccess;
            rows.Add(new PeerRow(
                m.Id.Hex,
                m.Address,
                m.Status.ToString().ToLowerInvariant(),
                RoleOf(m.Id, lease),
                rtt?.TotalMilliseconds,
                lastSeen,
                self ? "self" : link?.Transport is { Length: > 0 } t ? t : cluster.Transport.PreferredTransport,
                // Only the holder knows how far the others are (their log, as it replicates to them).
                self ? applied : lease?.Matches.TryGetValue(m.Id, out var match) == true ? match : null,
                self,
                _chunkService?.UsageOf(m.Id)?.StoredBytes));
        }
        return [.. rows.OrderByDescending(r => r.Self).ThenBy(r => r.Address, StringComparer.Ordinal)];
    }

    /// <summary>This node's status; <paramref name="applied"/> (when given) is the applied version to report.</summary>
    private NodeStatus Status(long? applied = null)
    {
        var cluster = _cluster!;
        var members = cluster.Membership.Members;
        var alive = members.Count(m => m.Status == MemberStatus.Alive);
        var state = _committer?.Current;
        var lease = _lease?.Status;
        return new NodeStatus(
            cluster.Self.Hex,
            _mount?.MountPoint ?? _options.MountPoint,
            _data?.Root ?? _options.DataDirectory,
            cluster.Advertise,
            cluster.ClusterId,
            applied ?? state?.Version ?? 0,
            state?.Inodes.Count ?? 0,
            QuorumText(lease),
            alive,
            members.Count,
            _uptime.Elapsed,
            _chunks?.Capacity().Free ?? 0,
            state is null ? 0 : state.StoredBytes,
            Version,
            RuntimeInformation.FrameworkDescription,
            _options.Metrics?.ToString(),
            lease is null ? null : lease.Role.ToString().ToLowerInvariant(),
            lease?.Term ?? 0,
            lease is { Holder.IsEmpty: false } ? lease.Holder.Hex : null,
            lease?.Commit ?? 0,
            lease?.LastVersion ?? 0,
            lease?.NoQuorum ?? false,
            _chunkService?.Status(),
            _lease?.HoldBack,
            // Walks every file: status is asked rarely, and this is how fragmentation is seen from outside.
            state?.Inodes.Values.Sum(i => (long)i.Extents.Count) ?? 0,
            _fs?.Compaction,
            _lease?.Counters,
            cluster.Membership.LocalHealth);
    }

    /// <summary>holder, voter or learner (by the log's voter set), or "member" while the lease is not running.</summary>
    private static string RoleOf(DinoMesh.Core.Identity.PeerId peer, DinoMesh.Cluster.Lease.LeaseStatus? lease) =>
        lease is null ? "member"
        : lease.Holder == peer ? "holder"
        : lease.Voters.Contains(peer) ? "voter"
        : "learner";

    private static string QuorumText(DinoMesh.Cluster.Lease.LeaseStatus? lease) => lease switch
    {
        null => "starting",
        { Role: DinoMesh.Cluster.Lease.LeaseRole.Holder } => $"ok: this node holds the lease ({lease.Voters.Count} voters){IdleText(lease)}",
        { NoQuorum: true } => lease.Holder.IsEmpty
            ? "no quorum: no lease holder reachable (metadata changes wait, then fail with ETIMEDOUT)"
            : $"no quorum: last saw holder {lease.Holder.Short} (metadata changes wait, then fail with ETIMEDOUT)",
        _ => $"ok: holder {lease.Holder.Short}{IdleText(lease)}",
    };

    // Says why a lost holder may take a few seconds to replace: nothing is being written, so the lease is renewed slowly.
    private static string IdleText(DinoMesh.Cluster.Lease.LeaseStatus lease) => lease.IdleLease ? "; log idle, lease renewed slowly" : "";

    /// <summary>
    /// `dino-node remove PEER`: out of the members and (if it voted) the voters in one entry; from that version on
    /// every member refuses it.
    /// </summary>
    private async Task<object> RemoveMemberAsync(string prefix, CancellationToken cancellationToken)
    {
        var committer = _committer ?? throw new ControlCommandException("the node is still starting");
        var matches = committer.Current.Members.Keys.Where(p => p.Hex.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        if (prefix.Length < 4 || matches.Count != 1)
        {
            throw new ControlCommandException(matches.Count == 0 ? $"no member's id starts with '{prefix}'" : $"'{prefix}' is ambiguous or too short: give more of the id");
        }
        var peer = matches[0];
        if (peer == committer.Self) throw new ControlCommandException("a node cannot remove itself: run `dino-node leave` on it, or `remove` on another member");
        var clock = new MutationClock(TimeProvider.System, committer.Self);
        var removed = await clock.CommitAsync(committer, new DinoMesh.Core.Metadata.RemoveMember(peer), 0, 0, cancellationToken);
        if (!removed.Ok) throw new ControlCommandException($"could not remove {peer.Short}: {removed.Error}");
        return new RemovedAnswer(peer.Hex);
    }
}
