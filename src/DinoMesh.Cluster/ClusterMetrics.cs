using System.Diagnostics.Metrics;
using DinoMesh.Cluster.Membership;

namespace DinoMesh.Cluster;

/// <summary>
/// The cluster layer's instruments: membership events as this node sees them (joined, suspected, refuted, dead,
/// left, updated). Write-only sinks; the meter is process-wide by .NET's design, hence static. The current count of
/// members by state is a gauge of the node (it needs the running membership), not of this layer.
/// </summary>
internal static class ClusterMetrics
{
    public const string MeterName = "DinoMesh.Cluster";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> MemberEvents = Meter.CreateCounter<long>("dinomesh.membership.events", "{event}", "Membership changes seen by this node, by kind");

    private static readonly Dictionary<MemberEventKind, KeyValuePair<string, object?>> Kinds =
        Enum.GetValues<MemberEventKind>().Distinct().ToDictionary(k => k, k => new KeyValuePair<string, object?>("kind", k.ToString().ToLowerInvariant()));

    public static void MemberEvent(MemberEventKind kind) => MemberEvents.Add(1, Kinds[kind]);
}
