using System.Diagnostics;
using DinoMesh.Load.Cluster;
using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// failover: copies on every node but the lease holder commit small files (create + write + close) in a steady
/// stream; a third of the way into the measured load the runner kills the lease holder with SIGKILL. The report
/// gives the error window (first to last failed commit after the kill), the time from the kill to the next
/// successful commit, and when a new holder was named. Failed calls are what this scenario measures, so they do not
/// make the run invalid. Needs a lease holder, at least 3 nodes (a majority must survive) and nodes the runner owns.
/// With <see cref="ClusterWorkload.GracefulFailover"/> the holder gets SIGTERM instead, as in a rolling restart: it
/// hands the lease over before it exits, so the same figures show what a planned stop costs.
/// </summary>
public sealed class FailoverScenario : ClusterScenario
{
    public const string ScenarioName = "failover";

    public override string Name => ScenarioName;

    public override string Description => "steady commits from the other nodes while the lease holder is killed (kill -9) mid-run";

    public override Requirements Requirements { get; } = new(MinNodes: 3, SharedNames: true, LeaseHolder: true, OwnedProcesses: true);

    public override bool HasReferences => false;

    public override int DefaultCopies(int nodes) => 2 * Math.Max(1, nodes - 1);

    public override Scenario Build(ScenarioContext context)
    {
        var control = context.Target.Control ?? throw new InvalidOperationException("failover needs nodes the runner started");
        var holderId = context.Sharing.LeaseHolderPeerId ?? throw new InvalidOperationException("failover needs a lease holder");
        var holder = context.Nodes.FirstOrDefault(n => SamePeer(control.PeerIdOf(n), holderId))
            ?? throw new InvalidOperationException($"the lease holder {holderId[..Math.Min(12, holderId.Length)]} is not one of this run's nodes");
        var workers = context.Nodes.Where(n => n != holder).ToList();
        var size = context.Workload.SmallFileSize;
        var payload = new Payload(Math.Max(size, Payload.Slot));
        var stamps = Payload.NewStampBase();
        var buffers = Enumerable.Range(0, context.Load.Copies).Select(_ => payload.NewBuffer()).ToArray();
        var analysis = new FailoverAnalysis();
        LoadClock? clock = null;
        long? killNs = null;
        (string Name, long Ns)? newHolder = null;
        var killAt = context.Load.MaxDuration / 3;
        var graceful = context.Workload.GracefulFailover;
        LoadNode WorkerOf(int copy) => workers[copy % workers.Count];
        string Dir(int copy) => Path.Combine(context.ScenarioDirectory(WorkerOf(copy), Name), WorkerOf(copy).Name, $"c{copy}");

        Step[] steps =
        [
            new Step($"commit {NodeFiles.Size(size)} file", c =>
            {
                var start = Stopwatch.GetTimestamp();
                StepResult result;
                try
                {
                    result = NodeFiles.CreateStamped(Path.Combine(Dir(c.Copy), $"f{c.Iteration}"), buffers[c.Copy], size, stamps + c.Iteration);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    result = StepResult.Fail($"{e.GetType().Name}: {e.Message}");
                }
                if (clock is { } k) analysis.Record(new CommitAttempt(k.ToNanoseconds(start), k.ToNanoseconds(Stopwatch.GetTimestamp()), result.IsOk));
                return ValueTask.FromResult(result);
            }),
        ];
        return new Scenario(Name, steps, context.Load, Headline.OperationsPerSecond)
        {
            WarmUp = context.WarmUp,
            ToleratesErrors = true,
            Init = async ct =>
            {
                for (var copy = 0; copy < context.Load.Copies; copy++)
                {
                    await context.EnsureDirectoryAsync(Name, Path.Combine(WorkerOf(copy).Name, $"c{copy}"), ct);
                }
            },
            Background = async (loadClock, ct) =>
            {
                clock = loadClock;
                var wait = killAt - loadClock.Elapsed;
                if (wait > TimeSpan.Zero) await Task.Delay(wait, ct);
                killNs = loadClock.ElapsedNanoseconds;
                context.Log($"failover: {How(graceful)} lease holder {holder.Name} at {FailoverAnalysis.Seconds(killNs.Value)}");
                // The stop runs beside the watch for a new holder: a graceful stop hands the lease over before it exits.
                var stopping = graceful ? control.TerminateAsync(holder) : control.KillAsync(holder);
                // Who holds the lease now, as the survivors say (bounded by the load's end).
                while (!ct.IsCancellationRequested && newHolder is null)
                {
                    foreach (var node in workers)
                    {
                        try
                        {
                            var peers = await control.PeersAsync(node, ct);
                            if (NodeCli.LeaseHolder(peers, null) is { } id && !SamePeer(id, holderId))
                            {
                                newHolder = (context.Nodes.FirstOrDefault(n => SamePeer(control.PeerIdOf(n), id))?.Name ?? id[..Math.Min(12, id.Length)], loadClock.ElapsedNanoseconds);
                                break;
                            }
                        }
                        catch (Exception e) when (e is InvalidOperationException or System.Text.Json.JsonException)
                        {
                            // A node busy electing may not answer at once; ask again.
                        }
                    }
                    if (newHolder is null) await Task.Delay(100, ct);
                }
                await stopping;
            },
            Findings = () => Findings(holder, graceful, killNs, newHolder, analysis),
            Clean = _ => context.RemoveScenarioDirectoryAsync(Name),
        };
    }

    /// <summary>A PeerId as status prints it (64 hex) or in its short form (a prefix), case aside.</summary>
    private static bool SamePeer(string? a, string b) =>
        a is { Length: >= 8 } && b.Length >= 8
        && (a.StartsWith(b, StringComparison.OrdinalIgnoreCase) || b.StartsWith(a, StringComparison.OrdinalIgnoreCase));

    private static string How(bool graceful) => graceful ? "stopping (SIGTERM)" : "killing (kill -9)";

    private static IReadOnlyList<string> Findings(LoadNode holder, bool graceful, long? killNs, (string Name, long Ns)? newHolder, FailoverAnalysis analysis)
    {
        if (killNs is not { } kill) return ["the lease holder was not stopped (the load ended first)"];
        var outcome = analysis.Analyze(kill);
        return
        [
            graceful
                ? $"stopped lease holder {holder.Name} (SIGTERM) at {FailoverAnalysis.Seconds(kill)}"
                : $"killed lease holder {holder.Name} (kill -9) at {FailoverAnalysis.Seconds(kill)}",
            outcome.ErrorWindow is { } window
                ? $"error window: {window.TotalSeconds:0.000} s ({outcome.Failed:N0} failed commits, from {FailoverAnalysis.Seconds(outcome.FirstErrorNs!.Value)} to {FailoverAnalysis.Seconds(outcome.LastErrorNs!.Value)})"
                : "error window: none (no commit failed after the kill)",
            outcome.TimeToNextCommit is { } next
                ? $"time to the next successful commit: {next.TotalSeconds:0.000} s"
                : "time to the next successful commit: none succeeded before the load ended",
            newHolder is { } h ? $"new lease holder: {h.Name}, seen {(h.Ns - kill) / 1e9:0.000} s after the {(graceful ? "SIGTERM" : "kill")}" : "new lease holder: none seen before the load ended",
        ];
    }
}
