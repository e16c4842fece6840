using System.Diagnostics.Metrics;
using DinoMesh.Node.Control;

namespace DinoMesh.Node.Web;

/// <summary>
/// The running node's gauges, read when metrics are collected: members by state, applied log version, inodes, bytes
/// stored and free, uptime. Unlike the per-layer counters these need the live node, so this meter belongs to it and
/// is disposed with it.
/// </summary>
public sealed class NodeGauges : IDisposable
{
    public const string MeterName = "DinoMesh.Node";

    private static readonly string[] States = ["alive", "suspect", "dead", "left"];

    private readonly Meter _meter = new(MeterName);

    public NodeGauges(Func<(NodeStatus Status, IReadOnlyList<PeerRow> Peers)?> snapshot)
    {
        _meter.CreateObservableGauge("dinomesh.members", () =>
        {
            var peers = snapshot()?.Peers ?? [];
            return States.Select(s => new Measurement<long>(peers.Count(p => p.State == s), new KeyValuePair<string, object?>("state", s)));
        }, "{member}", "Members of the cluster as this node sees them, by SWIM state");
        _meter.CreateObservableGauge("dinomesh.log.version", () => Read(snapshot, s => s.AppliedVersion), "{version}", "Highest applied metadata log version");
        _meter.CreateObservableGauge("dinomesh.inodes", () => Read(snapshot, s => s.Inodes), "{inode}", "Inodes in the volume");
        _meter.CreateObservableGauge("dinomesh.volume.stored", () => Read(snapshot, s => s.StoredBytes), "By", "Bytes the volume stores (what df shows as used)");
        _meter.CreateObservableGauge("dinomesh.volume.available", () => Read(snapshot, s => s.ChunkBytesFree), "By", "Free bytes on the data directory's disk (what df shows as available)");
        _meter.CreateObservableGauge("dinomesh.uptime", () => Read(snapshot, s => (long)s.Uptime.TotalSeconds), "s", "Seconds since the node started");
    }

    private static IEnumerable<Measurement<long>> Read(Func<(NodeStatus Status, IReadOnlyList<PeerRow> Peers)?> snapshot, Func<NodeStatus, long> value) =>
        snapshot() is { } s ? [new Measurement<long>(value(s.Status))] : [];

    public void Dispose() => _meter.Dispose();
}
