using DinoMesh.Cluster.Membership;

namespace DinoMesh.Cluster.Tests.Membership;

/// <summary>
/// CPU-starved nodes (their timers and message handling run late by a random 0-2 s) among healthy ones, on the
/// simulated network. A slow node must not get healthy nodes declared dead, and crashes must still be detected as fast.
/// </summary>
public class StarvedNodeSimulationTests
{
    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    internal readonly record struct Outcome(int HealthyDeaths, int StarvedDeaths, int Suspicions, TimeSpan MeanDetection, TimeSpan WorstDetection);

    /// <summary>
    /// 32 nodes, 4 of them starved (stalls of up to 2 s) for 60 s of steady state, then 3 healthy nodes crashed one
    /// after another. Counts Dead events (at any observer) about nodes that were running, and measures the time until
    /// every running healthy node holds each crashed node dead.
    /// </summary>
    internal static Outcome Run(MembershipConfig config, int seed, int n = 32, int starved = 4)
    {
        var net = new SimNetwork(seed, config);
        var nodes = net.AddNodes(n);
        foreach (var node in nodes.Skip(1)) net.Join(node, nodes[0]);
        Assert.True(net.RunUntil(net.Converged, TimeSpan.FromSeconds(30)) is not null, $"not converged ({net.Replay})\n{net.Describe()}");
        var start = net.Events.Count;
        var slow = nodes.Skip(1).Take(starved).ToList();
        foreach (var node in slow) net.Starve(node, TimeSpan.FromSeconds(2));
        var healthy = nodes.Except(slow).ToList();

        net.Run(TimeSpan.FromSeconds(60));

        var detections = new List<TimeSpan>();
        foreach (var victim in healthy.Skip(5).Take(3))
        {
            net.Crash(victim);
            var observers = healthy.Where(h => h.Up).ToList();
            var took = net.RunUntil(() => net.AllSee([victim], MemberStatus.Dead, observers), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(10));
            Assert.True(took is not null, $"crash of {victim} not detected by every healthy node ({net.Replay})\n{net.Describe([victim])}");
            detections.Add(took.Value);
            net.Run(TimeSpan.FromSeconds(5));
        }
        var crashed = nodes.Where(x => !x.Up).Select(x => x.Id).ToHashSet();
        var slowIds = slow.Select(x => x.Id).ToHashSet();
        var events = net.Events.Skip(start).ToList();
        var deaths = events.Where(e => e.Kind == MemberEventKind.Dead && !crashed.Contains(e.Member)).ToList();
        return new Outcome(
            deaths.Count(e => !slowIds.Contains(e.Member)),
            deaths.Count(e => slowIds.Contains(e.Member)),
            events.Count(e => e.Kind == MemberEventKind.Suspected),
            TimeSpan.FromTicks((long)detections.Average(d => d.Ticks)),
            detections.Max());
    }

    [Fact]
    public void Local_health_cuts_false_deaths_of_healthy_nodes_tenfold_at_equal_detection_time()
    {
        var seeds = SimSeed.Override is { } only ? [only] : new[] { 11, 12, 13 };
        var off = new List<Outcome>();
        var on = new List<Outcome>();
        foreach (var seed in seeds)
        {
            // Today's rules without local health, then with it, on the same seed (the same network and stalls).
            off.Add(Run(MembershipConfig.Local() with { AwarenessMaxMultiplier = 1 }, seed, starved: 8));
            on.Add(Run(MembershipConfig.Local(), seed, starved: 8));
            Log($"seed {seed}: without local health {off[^1]}");
            Log($"seed {seed}: with local health    {on[^1]}");
        }

        var deathsOff = off.Sum(o => o.HealthyDeaths);
        var deathsOn = on.Sum(o => o.HealthyDeaths);
        var detectionOff = TimeSpan.FromTicks((long)off.Average(o => o.MeanDetection.Ticks));
        var detectionOn = TimeSpan.FromTicks((long)on.Average(o => o.MeanDetection.Ticks));
        var replay = SimSeed.Replay(seeds[0]);
        Log($"healthy nodes declared dead: {deathsOff} -> {deathsOn}; mean detection {detectionOff.TotalMilliseconds:F0} -> {detectionOn.TotalMilliseconds:F0} ms");
        if (SimSeed.Override is null) Assert.True(deathsOff >= 10, $"the scenario is too mild to compare: {deathsOff} false deaths without local health ({replay})");
        Assert.True(deathsOn * 10 <= deathsOff, $"false deaths {deathsOff} without local health, {deathsOn} with it: not a tenfold drop ({replay})");
        Assert.True(detectionOn <= detectionOff * 1.15, $"detection {detectionOn} with local health against {detectionOff} without ({replay})");
    }
}
