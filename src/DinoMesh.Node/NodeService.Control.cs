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

    // Bytes the volume stores, computed once per metadata state (a statfs or a page refresh does not rescan the tree).
    private readonly VolumeUsage _usage = new();

    private async ValueTask<object?> HandleControlAsync(string command, CancellationToken cancellationToken)
    {
        var cluster = _cluster ?? throw new ControlCommandException("the node is still starting");
        switch (command)
        {
            case "peers":
                return Peers();
            case "status":
                return Status();
            case "token":
                return new { token = cluster.Token, cluster = cluster.ClusterId, join = JoinCommand.For(cluster.Advertise, cluster.Token, _mount?.MountPoint ?? _options.MountPoint) };
            case "leave":
                _logger.LogInformation("leave requested through the control socket");
                _leaving = true;
                await cluster.LeaveAsync(cancellationToken);
                _lifetime.StopApplication();
                return new { left = true };
            default:
                throw new ControlCommandException($"unknown command '{command}' (known: status, peers, token, leave)");
        }
    }

    /// <summary>What the status page shows: this node's status and its view of the members; null while starting.</summary>
    public (NodeStatus Status, IReadOnlyList<PeerRow> Peers)? Snapshot() => _cluster is null ? null : (Status(), Peers());

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
                string.IsNullOrEmpty(m.Meta) ? "member" : m.Meta,
                rtt?.TotalMilliseconds,
                lastSeen,
                self ? "self" : link?.Transport is { Length: > 0 } t ? t : cluster.Transport.PreferredTransport,
                // Other nodes' versions are not gossiped yet: unknown, so null.
                self ? applied : null,
                self));
        }
        return [.. rows.OrderByDescending(r => r.Self).ThenBy(r => r.Address, StringComparer.Ordinal)];
    }

    private NodeStatus Status()
    {
        var cluster = _cluster!;
        var members = cluster.Membership.Members;
        var alive = members.Count(m => m.Status == MemberStatus.Alive);
        var state = _committer?.Current;
        return new NodeStatus(
            cluster.Self.Hex,
            _mount?.MountPoint ?? _options.MountPoint,
            _data?.Root ?? _options.DataDirectory,
            cluster.Advertise,
            cluster.ClusterId,
            state?.Version ?? 0,
            state?.Inodes.Count ?? 0,
            // Metadata is committed locally until the lease holder lands; there is no quorum to lose yet.
            "local (single-writer log; no lease holder yet)",
            alive,
            members.Count,
            _uptime.Elapsed,
            _chunks?.Capacity().Free ?? 0,
            state is null ? 0 : _usage.StoredBytes(state),
            Version,
            RuntimeInformation.FrameworkDescription,
            _options.Metrics?.ToString());
    }
}
