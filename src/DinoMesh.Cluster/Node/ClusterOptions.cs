using System.Net;
using DinoMesh.Cluster.Membership;

namespace DinoMesh.Cluster.Node;

/// <summary>How this node takes part in its cluster.</summary>
public sealed record ClusterOptions
{
    public const int DefaultPort = 7946;

    public required string DataDirectory { get; init; }

    /// <summary>Where to accept peer connections (default: all interfaces, port 7946).</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Any, DefaultPort);

    /// <summary>The address other nodes dial ("host:port"); derived from <see cref="Listen"/> when not given.</summary>
    public string? Advertise { get; init; }

    /// <summary>A member to join through ("host:port"); null starts a new cluster (or rejoins the remembered one).</summary>
    public string? Join { get; init; }

    /// <summary>The join credential, needed only for the first join.</summary>
    public string? Token { get; init; }

    public MembershipConfig Membership { get; init; } = MembershipConfig.Lan();

    /// <summary>
    /// Registers the protocols of the layers above (lease, proposals, chunks) on the transport before it starts
    /// listening, so no peer ever reaches a half-registered node.
    /// </summary>
    public Action<DinoMesh.Transport.PeerTransport>? Protocols { get; init; }

    /// <summary>How long a join or an admission announcement may take.</summary>
    public TimeSpan JoinDeadline { get; init; } = TimeSpan.FromSeconds(10);
}
