using System.Net;
using DinoMesh.Cluster.Membership;

namespace DinoMesh.Node;

/// <summary>What `dino-node --mount ...` was asked to do.</summary>
public sealed record NodeOptions
{
    public required string MountPoint { get; init; }
    public required string DataDirectory { get; init; }
    public bool AllowOther { get; init; } = true;
    public bool WritebackCache { get; init; }

    /// <summary>The mount's source as mount(8) and df show it (--fsname); null: "dinomesh:&lt;cluster id&gt;".</summary>
    public string? FileSystemName { get; init; }

    /// <summary>When reads move atime (--atime relatime|strictatime|noatime).</summary>
    public DinoMesh.Fuse.MountAtime Atime { get; init; } = DinoMesh.Fuse.MountAtime.Relatime;

    /// <summary>How long the FUSE reader polls after a request before sleeping; zero for blocking readers.</summary>
    public TimeSpan BusyPoll { get; init; } = TimeSpan.FromMicroseconds(50);
    public IPEndPoint Listen { get; init; } = new(IPAddress.Any, Cluster.Node.ClusterOptions.DefaultPort);
    public string? Advertise { get; init; }
    public string? Join { get; init; }
    public string? Token { get; init; }
    public MembershipConfig Membership { get; init; } = MembershipConfig.Lan();

    /// <summary>How long a metadata change waits for a lease holder and a majority before it fails with ETIMEDOUT.</summary>
    public TimeSpan CommitTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where to serve Prometheus metrics and the status page; null (the default) serves nothing.</summary>
    public IPEndPoint? Metrics { get; init; }

    /// <summary>Replicas, cache bound and collection grace of chunks (--replicas, --cache-size, --gc-grace).</summary>
    public Cluster.Chunks.ChunkOptions Chunks { get; init; } = new();
}
