using DinoMesh.Cluster.Membership;
using DinoMesh.Node.Control;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Node;

// The control socket's commands: status, peers, token, leave.
public sealed partial class NodeService
{
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
                return new { token = cluster.Token, cluster = cluster.ClusterId, join = $"dino-node --join {cluster.Advertise} --token {cluster.Token} --mount DIR" };
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
            var rtt = m.RoundTrip ?? link?.LastRtt;
            DateTimeOffset? lastSeen = self ? wallNow : m.LastHeard is { } heard ? wallNow - (now - heard) : link?.LastSuccess;
            rows.Add(new PeerRow(
                m.Id.Hex,
                m.Address,
                m.Status.ToString().ToLowerInvariant(),
                string.IsNullOrEmpty(m.Meta) ? "member" : m.Meta,
                rtt?.TotalMilliseconds,
                lastSeen,
                self ? "self" : link?.Transport is { Length: > 0 } t ? t : cluster.Transport.PreferredTransport,
                self ? applied : null,
                null,
                self,
                _chunkService?.UsageOf(m.Id)?.StoredBytes));
        }
        return [.. rows.OrderByDescending(r => r.Self).ThenBy(r => r.Address, StringComparer.Ordinal)];
    }

    private NodeStatus Status()
    {
        var cluster = _cluster!;
        var members = cluster.Membership.Members;
        var alive = members.Count(m => m.Status == MemberStatus.Alive);
        return new NodeStatus(
            cluster.Self.Hex,
            _mount?.MountPoint ?? _options.MountPoint,
            _data?.Root ?? _options.DataDirectory,
            cluster.Advertise,
            cluster.ClusterId,
            _committer?.Current.Version ?? 0,
            _committer?.Current.Inodes.Count ?? 0,
            // Metadata is committed locally until the lease holder lands; there is no quorum to lose yet.
            "local (single-writer log; no lease holder yet)",
            alive,
            members.Count,
            _uptime.Elapsed,
            _chunks?.Capacity().Free ?? 0,
            _chunkService?.Status());
    }
}
