using System.Text.Json;
using System.Text.Json.Serialization;

namespace DinoMesh.Node.Control;

/// <summary>
/// The local control API: one JSON request line, one JSON response line, over a Unix socket in the data directory
/// (mode 0600, so only the node's owner can talk to it).
/// </summary>
public static class ControlProtocol
{
    public const string SocketName = "control.sock";

    /// <summary>Longest request or response line accepted.</summary>
    public const int MaxLineBytes = 4 * 1024 * 1024;

    /// <summary>The options of every control and status document: Web defaults, nulls left out, one line (<see cref="ControlJson"/>).</summary>
    public static JsonSerializerOptions Json => ControlJson.Default.Options;

    public static string SocketPath(string dataDirectory) => Path.Combine(dataDirectory, SocketName);
}

public sealed record ControlRequest(string Command);

public sealed record ControlResponse(bool Ok, string? Error = null, JsonElement? Result = null);

/// <summary>
/// One row of `dino-node peers`. A field the node does not know (no round trip measured yet; another node's applied
/// version) is written as null, never left out, so every row has the fields the README lists.
/// </summary>
public sealed record PeerRow(
    string Id,
    string Address,
    string State,
    string Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] double? RttMs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] DateTimeOffset? LastSeen,
    string Transport,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] long? AppliedVersion = null,
    bool Self = false,
    long? StoredBytes = null);

/// <summary>`dino-node status`.</summary>
public sealed record NodeStatus(
    string PeerId,
    string MountPoint,
    string DataDirectory,
    string? Listen,
    string? ClusterId,
    long AppliedVersion,
    long Inodes,
    string Quorum,
    int PeersAlive,
    int PeersTotal,
    TimeSpan Uptime,
    long ChunkBytesFree,
    long StoredBytes = 0,
    string? Version = null,
    string? Runtime = null,
    string? Metrics = null,
    string? Role = null,
    long Term = 0,
    string? Holder = null,
    long CommitVersion = 0,
    long LogVersion = 0,
    bool NoQuorum = false,
    DinoMesh.Cluster.Chunks.ChunkStatus? Chunks = null,
    DinoMesh.Cluster.Lease.LeaseHoldBack? HoldBack = null,
    long Extents = 0,
    DinoMesh.Volume.CompactionCounts? Compaction = null,
    DinoMesh.Cluster.Lease.LeaseCounters? Lease = null,
    int LocalHealth = 0);
