using System.Diagnostics.Metrics;
using DinoMesh.Cluster.Lease;

namespace DinoMesh.Node.Web;

/// <summary>
/// The lease's instruments and Lifeguard's local health on the node's meter (docs/architecture.md, "Metrics and the
/// status page"): role, term, commit version, voters, learners, quorum, each follower's replication lag on the holder,
/// and the lease's running counts (<see cref="LeaseCounters"/>). All observable: read from the driver (under its lock,
/// as `status` reads it) once per collection, so nothing here is on the commit path. The applied
/// version is <c>dinomesh.log.version</c> (<see cref="NodeGauges"/>), not repeated here.
/// </summary>
internal static class LeaseGauges
{
    private static readonly (LeaseRole Role, string Name)[] Roles =
        [(LeaseRole.Holder, "holder"), (LeaseRole.Voter, "voter"), (LeaseRole.Learner, "learner"), (LeaseRole.Candidate, "candidate"), (LeaseRole.PreCandidate, "pre_candidate")];

    public static void AddTo(Meter meter, Func<LeaseDriver?> lease, Func<int?> localHealth)
    {
        // One read of the driver per collection, not one per instrument: each read takes the driver's lock, which the
        // commit path takes too.
        var status = new ScrapeMemo<LeaseStatus?>(() => lease()?.Status, TimeProvider.System);
        var counters = new ScrapeMemo<LeaseCounters?>(() => lease()?.Counters, TimeProvider.System);
        meter.CreateObservableGauge("dinomesh.lease.is_holder", () => Status(status, s => [new(s.Role == LeaseRole.Holder ? 1 : 0)]),
            null, "1 while this node holds the lease");
        meter.CreateObservableGauge("dinomesh.lease.role", () => Status(status, s => [.. Roles.Select(r => Tagged(s.Role == r.Role ? 1 : 0, "role", r.Name))]),
            null, "1 for this node's role in the lease (holder, voter, learner, candidate, pre_candidate), 0 for the others");
        meter.CreateObservableGauge("dinomesh.lease.term", () => Status(status, s => [new(s.Term)]), "{term}", "The lease's current term as this node knows it");
        meter.CreateObservableGauge("dinomesh.lease.commit_version", () => Status(status, s => [new(s.Commit)]),
            "{version}", "Newest log version this node knows to be committed (the applied one is dinomesh.log.version)");
        meter.CreateObservableGauge("dinomesh.lease.log_version", () => Status(status, s => [new(s.LastVersion)]),
            "{version}", "Newest version in this node's log, committed or not");
        meter.CreateObservableGauge("dinomesh.lease.voters", () => Status(status, s => [new(s.Voters.Count)]), "{voter}", "Voters in the log's newest voter set");
        meter.CreateObservableGauge("dinomesh.lease.learners", () => Status(status, s => [new(s.Learners)]), "{member}", "Members this node knows that do not vote");
        meter.CreateObservableGauge("dinomesh.lease.quorum", () => Status(status, s => [new(s.Quorum ? 1 : 0)]),
            null, "1 while this node is in touch with a majority: the holder heard from a majority within an election timeout or two, another node heard a live holder");
        meter.CreateObservableGauge("dinomesh.lease.replication_lag", () => Status(status, Lags),
            "{version}", "On the holder: its commit version minus the newest version each follower is known to hold, by peer");
        meter.CreateObservableGauge("dinomesh.membership.local_health", () => localHealth() is { } score ? [new Measurement<long>(score)] : Array.Empty<Measurement<long>>(),
            null, "Lifeguard's local health score: 0 when healthy, up to 7 while this node misses its own deadlines (it then probes less and waits longer)");

        meter.CreateObservableCounter("dinomesh.lease.elections", () => Counted(counters, c =>
            [Tagged(c.PreVotesStarted, "kind", "pre_vote"), Tagged(c.VotesStarted, "kind", "vote")]),
            "{election}", "Campaigns this node started: pre-votes (no new term) and votes (a new term)");
        meter.CreateObservableCounter("dinomesh.lease.elections_won", () => Counted(counters, c => [new(c.ElectionsWon)]), "{election}", "Elections this node won");
        meter.CreateObservableCounter("dinomesh.lease.holder_changes", () => Counted(counters, c => [new(c.HolderChangesSeen)]),
            "{change}", "Holders this node learnt of: a holder in a term it had seen none in, or another holder");
        meter.CreateObservableCounter("dinomesh.lease.transfers", () => Counted(counters, c => [new(c.TransfersStarted)]), "{transfer}", "Hand-overs of the lease this node started as holder");
        meter.CreateObservableCounter("dinomesh.lease.proposals", () => Counted(counters, c =>
            [Tagged(c.Committed, "result", "committed"), Tagged(c.CommitsRefused, "result", "refused"),
             Tagged(c.CommitsTimedOut, "result", "timeout"), Tagged(c.CommitsWithoutQuorum, "result", "no_quorum")]),
            "{proposal}", "This node's own changes by how they ended: committed, refused by the holder, timed out after a holder took them, no holder with a majority");
        meter.CreateObservableCounter("dinomesh.lease.proposals_handled", () => Counted(counters, c =>
            [Tagged(c.ProposalsAppended, "result", "appended"), Tagged(c.ProposalsRetried, "result", "retried"),
             Tagged(c.ProposalsRefused, "result", "refused"), Tagged(c.ProposalsNotHolder, "result", "not_holder")]),
            "{proposal}", "Proposals that reached this node's lease driver: appended, retries answered from the op-id table, refused, turned away (not the holder)");
        meter.CreateObservableCounter("dinomesh.lease.snapshots", () => Counted(counters, c =>
            [Tagged(c.SnapshotsSent, "direction", "sent"), Tagged(c.SnapshotsInstalled, "direction", "installed")]),
            "{snapshot}", "Snapshot transfers this holder started (sent) and snapshots this node installed");
        meter.CreateObservableCounter("dinomesh.lease.entries_pulled", () => Counted(counters, c => [new(c.EntriesPulled)]),
            "{entry}", "Log entries this node took by gossip catch-up from a member ahead of it");
        meter.CreateObservableCounter("dinomesh.lease.rounds_deferred", () => Counted(counters, c => [new(c.RoundsDeferred)]),
            "{round}", "Inputs whose round the driver left to a proposer whose appends were being flushed");
    }

    private static Measurement<long>[] Lags(LeaseStatus s) =>
        [.. s.ReplicationLags.Select(l => Tagged(l.Value, "peer", l.Key.Short))];

    private static IEnumerable<Measurement<long>> Status(ScrapeMemo<LeaseStatus?> status, Func<LeaseStatus, Measurement<long>[]> values) =>
        status.Get() is { } s ? values(s) : [];

    private static IEnumerable<Measurement<long>> Counted(ScrapeMemo<LeaseCounters?> counters, Func<LeaseCounters, Measurement<long>[]> values) =>
        counters.Get() is { } c ? values(c) : [];

    private static Measurement<long> Tagged(long value, string key, string tag) => new(value, new KeyValuePair<string, object?>(key, tag));
}
