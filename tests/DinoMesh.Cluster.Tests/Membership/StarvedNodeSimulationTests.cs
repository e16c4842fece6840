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

    // Local's suspicion multiplier before issue 13. With today's 4 this scenario leaves almost no healthy node declared
    // dead even without local health (1-5 in three seeds, 8-20 of 32 starved), too few to measure a tenfold drop by, so
    // the comparison of local health on and off runs on the older, more trigger-happy suspicion timeouts.
    private const int OldLocalSuspicionMult = 3;

    [Fact]
    public void Local_health_cuts_false_deaths_of_healthy_nodes_tenfold_at_equal_detection_time()
    {
        var seeds = SimSeed.Override is { } only ? [only] : new[] { 11, 12, 13 };
        var off = new List<Outcome>();
        var on = new List<Outcome>();
        var rules = MembershipConfig.Local() with { SuspicionMult = OldLocalSuspicionMult };
        foreach (var seed in seeds)
        {
            // The rules without local health, then with it, on the same seed (the same network and stalls).
            off.Add(Run(rules with { AwarenessMaxMultiplier = 1 }, seed, starved: 8));
            on.Add(Run(rules, seed, starved: 8));
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

    /// <summary>
    /// Every node of a 32-node cluster starved at once for 60 s (each runs only at random moments up to
    /// <paramref name="maxStall"/> apart): many processes sharing one machine's cores. Counts Dead events about nodes
    /// that never stopped.
    /// </summary>
    internal static int FalseDeathsAllStarved(MembershipConfig config, int seed, TimeSpan maxStall, int n = 32)
    {
        var net = new SimNetwork(seed, config);
        var nodes = net.AddNodes(n);
        foreach (var node in nodes.Skip(1)) net.Join(node, nodes[0]);
        Assert.True(net.RunUntil(net.Converged, TimeSpan.FromSeconds(30)) is not null, $"not converged ({net.Replay})\n{net.Describe()}");
        var start = net.Events.Count;
        foreach (var node in nodes) net.Starve(node, maxStall);
        net.Run(TimeSpan.FromSeconds(60));
        return net.Events.Skip(start).Count(e => e.Kind == MemberEventKind.Dead);
    }

    [Fact]
    public void Every_node_starved_at_once_loses_ten_times_fewer_live_nodes_with_todays_local_rules()
    {
        // Issue 13: 32 real nodes on two cores all run late together. Today's Local (SuspicionMult 4, suspicions
        // stretched by the holder's own health) against the rules before (SuspicionMult 3, memberlist's unstretched
        // suspicions), on the same seeds; each change alone is logged too.
        var seeds = SimSeed.Override is { } only ? [only] : new[] { 1, 2 };
        var old = MembershipConfig.Local() with { SuspicionMult = OldLocalSuspicionMult, LocalHealthStretchesSuspicion = false };
        var multiplierOnly = MembershipConfig.Local() with { LocalHealthStretchesSuspicion = false };
        var today = MembershipConfig.Local();
        var stall = TimeSpan.FromSeconds(1);
        var deathsOld = seeds.Sum(seed => FalseDeathsAllStarved(old, seed, stall));
        var deathsMultiplierOnly = seeds.Sum(seed => FalseDeathsAllStarved(multiplierOnly, seed, stall));
        var deathsToday = seeds.Sum(seed => FalseDeathsAllStarved(today, seed, stall));
        // Crash detection by the healthy nodes in the starved-minority scenario: the price of the longer timeouts.
        var detectionOld = seeds.Average(seed => Run(old, seed + 10, starved: 8).MeanDetection.TotalMilliseconds);
        var detectionToday = seeds.Average(seed => Run(today, seed + 10, starved: 8).MeanDetection.TotalMilliseconds);
        var replay = SimSeed.Replay(seeds[0]);
        Log($"live nodes declared dead, all 32 starved up to {stall.TotalMilliseconds} ms: {deathsOld} before, {deathsMultiplierOnly} with SuspicionMult 4 alone, {deathsToday} today; mean crash detection {detectionOld:F0} -> {detectionToday:F0} ms");
        if (SimSeed.Override is null) Assert.True(deathsOld >= 10, $"the scenario is too mild to compare: {deathsOld} false deaths before ({replay})");
        Assert.True(deathsToday * 10 <= deathsOld, $"false deaths {deathsOld} before, {deathsToday} today: not a tenfold drop ({replay})");
        Assert.True(detectionToday <= detectionOld * 1.25, $"crash detection {detectionToday:F0} ms today against {detectionOld:F0} ms before ({replay})");
    }
}
