using System.Diagnostics.Metrics;
using DinoMesh.Node.Control;

namespace DinoMesh.Node.Web;

/// <summary>
/// The running node's gauges, read when metrics are collected: members by state, applied log version, inodes, bytes
/// stored and free, uptime, the lease's state and counts and the local health score (<see cref="LeaseGauges"/>). Unlike the per-layer counters these need the live node, so this meter belongs to it and
/// is disposed with it.
/// </summary>
public sealed class NodeGauges : IDisposable
{
    public const string MeterName = "DinoMesh.Node";

    private static readonly string[] States = ["alive", "suspect", "dead", "left"];

    private readonly Meter _meter = new(MeterName);

    public NodeGauges(Func<(NodeStatus Status, IReadOnlyList<PeerRow> Peers)?> snapshot, Func<DinoMesh.Cluster.Lease.LeaseDriver?> lease, Func<int?> localHealth)
    {
        LeaseGauges.AddTo(_meter, lease, localHealth);
        // One status per collection, not one per instrument (ScrapeMemo): the gauges below all read the same one.
        snapshot = new ScrapeMemo<(NodeStatus Status, IReadOnlyList<PeerRow> Peers)?>(snapshot, TimeProvider.System).Get;
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
        // The lease holder's hold-back policies (LeaseHoldBack): one writer's runs are fast or slow, and these tell
        // whether a slow one is a policy switched off.
        _meter.CreateObservableCounter("dinomesh.lease.held_notices", () => HoldBack(snapshot, h =>
            [Tagged(h.NoticesCarried, "outcome", "carried"), Tagged(h.NoticesSentAlone, "outcome", "alone")]),
            "{notice}", "Commit notices the holder held back, by whether they rode on an append (carried) or went alone");
        _meter.CreateObservableCounter("dinomesh.lease.deferred_appends", () => HoldBack(snapshot, h =>
            [Tagged(h.DeferralsMerged, "outcome", "merged"), Tagged(h.DeferralsAlone, "outcome", "alone")]),
            "{append}", "Appends the holder deferred to followers the majority did not need, by whether they carried two or more proposals (merged) or one");
        _meter.CreateObservableCounter("dinomesh.lease.policy_switches", () => HoldBack(snapshot, h =>
            [Tagged(h.NoticePolicyFlips, "policy", "hold_notices"), Tagged(h.DeferralPolicyFlips, "policy", "defer_appends")]),
            "{switch}", "Times the holder's hold-back policies switched on or off");
        _meter.CreateObservableGauge("dinomesh.lease.policy_on", () => HoldBack(snapshot, h =>
            [Tagged(h.HoldingNotices ? 1 : 0, "policy", "hold_notices"), Tagged(h.DeferringAppends ? 1 : 0, "policy", "defer_appends")]),
            "{policy}", "1 while the holder's hold-back policy is on (holding notices back, deferring appends)");
        _meter.CreateObservableCounter("dinomesh.lease.quick_voters_demoted", () => HoldBack(snapshot, h => [new Measurement<long>(h.QuickVotersDemoted)]),
            "{voter}", "Quick voters that let a deferred entry wait the whole deadline and lost their place");
    }

    private static IEnumerable<Measurement<long>> Read(Func<(NodeStatus Status, IReadOnlyList<PeerRow> Peers)?> snapshot, Func<NodeStatus, long> value) =>
        snapshot() is { } s ? [new Measurement<long>(value(s.Status))] : [];

    private static IEnumerable<Measurement<long>> HoldBack(Func<(NodeStatus Status, IReadOnlyList<PeerRow> Peers)?> snapshot,
        Func<DinoMesh.Cluster.Lease.LeaseHoldBack, Measurement<long>[]> values) =>
        snapshot()?.Status.HoldBack is { } h ? values(h) : [];

    private static Measurement<long> Tagged(long value, string key, string tag) => new(value, new KeyValuePair<string, object?>(key, tag));

    public void Dispose() => _meter.Dispose();
}
