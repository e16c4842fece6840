using DinoMesh.Cluster.Membership;

namespace DinoMesh.Cluster.Tests.Membership;

/// <summary>
/// The membership machine on a simulated network (<see cref="SimNetwork"/>), with the Local profile. Each test is one
/// scenario from a fixed seed; a failure names its seed, and DINOMESH_SIM_SEED replays it.
/// </summary>
public class MembershipSimulationTests
{
    private static readonly MembershipConfig Config = MembershipConfig.Local();

    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    /// <summary>n nodes, all joined through the first, run until every view is all-alive.</summary>
    private static (SimNetwork Net, List<SimNode> Nodes) Converged(int seed, int n, TimeSpan? limit = null)
    {
        var net = new SimNetwork(seed, Config);
        var nodes = net.AddNodes(n);
        foreach (var node in nodes.Skip(1)) net.Join(node, nodes[0]);
        var took = net.RunUntil(net.Converged, limit ?? TimeSpan.FromSeconds(30));
        Assert.True(took is not null, $"{n} nodes did not converge ({net.Replay})\n{net.Describe()}");
        return (net, nodes);
    }

    // Worst case from the config: a few intervals until someone probes and concludes, the unconfirmed suspicion
    // timeout, and some rounds of gossip to reach everyone.
    private static TimeSpan DetectionBound(int n) =>
        Config.ProbeInterval * 4 + Config.SuspicionTimeout(n) * Config.SuspicionMaxTimeoutMult + Config.GossipInterval * 20;

    /// <summary>Crash one node of a converged cluster; how long until every live node holds it dead.</summary>
    private static TimeSpan DetectCrash(SimNetwork net, SimNode victim)
    {
        net.Crash(victim);
        var took = net.RunUntil(() => net.AllSee([victim], MemberStatus.Dead), DetectionBound(net.Nodes.Count) * 2, TimeSpan.FromMilliseconds(10));
        Assert.True(took is not null, $"crash of {victim} not detected everywhere within {DetectionBound(net.Nodes.Count) * 2} ({net.Replay})\n{net.Describe([victim])}");
        return took.Value;
    }

    [Fact]
    public void Two_hundred_nodes_joining_through_one_seed_converge_to_all_alive()
    {
        var seed = SimSeed.Get(1);
        var net = new SimNetwork(seed, Config);
        var nodes = net.AddNodes(210);
        foreach (var node in nodes.Skip(1)) net.Join(node, nodes[0]);

        var took = net.RunUntil(net.Converged, TimeSpan.FromSeconds(15));

        Log($"210 nodes converged in {took} ({net.Delivered} messages)");
        Assert.True(took is not null, $"not converged within 15 s ({net.Replay})\n{net.Describe()}");
        Assert.DoesNotContain(net.Events, e => e.Kind is MemberEventKind.Suspected or MemberEventKind.Dead);
    }

    [Fact]
    public void A_crashed_node_among_two_hundred_is_dead_everywhere_within_the_bound()
    {
        var seed = SimSeed.Get(2);
        var (net, nodes) = Converged(seed, 200);
        var victim = nodes[net.Random.Next(nodes.Count)];

        var took = DetectCrash(net, victim);

        Log($"detected in {took}, bound {DetectionBound(200)}");
        Assert.True(took <= DetectionBound(200), $"took {took} > {DetectionBound(200)} ({net.Replay})");
        var falseDeaths = net.Events.Where(e => e.Kind == MemberEventKind.Dead && e.Member != victim.Id).ToList();
        Assert.True(falseDeaths.Count == 0, $"live nodes declared dead: {falseDeaths.Count} ({net.Replay})");
    }

    [Fact]
    public void Detection_time_grows_like_log_n()
    {
        var seed = SimSeed.Get(3);
        var times = new Dictionary<int, TimeSpan>();
        foreach (var n in new[] { 16, 64, 256 })
        {
            // Average a few crashes: one crash's time depends on where it falls in the probe rounds.
            var (net, nodes) = Converged(seed + n, n);
            var total = TimeSpan.Zero;
            const int crashes = 3;
            for (var i = 0; i < crashes; i++)
            {
                var victim = nodes[1 + i * (n / crashes - 1)];
                var took = DetectCrash(net, victim);
                Assert.True(took <= DetectionBound(n), $"n={n}: took {took} > {DetectionBound(n)} ({net.Replay})");
                total += took;
            }
            times[n] = total / crashes;
            Log($"n={n}: mean detection {times[n].TotalMilliseconds:F0} ms, base suspicion {Config.SuspicionTimeout(n).TotalMilliseconds:F0} ms, bound {DetectionBound(n).TotalMilliseconds:F0} ms");
        }
        // log10(256) / log10(16) = 2: detection that grew linearly would be 16x.
        Assert.True(times[256] <= times[16] * 3, $"t(256)={times[256]} > 3 * t(16)={times[16]} (seed {seed})");
        Assert.True(times[64] <= times[16] * 2.5, $"t(64)={times[64]} > 2.5 * t(16)={times[16]} (seed {seed})");
    }

    [Fact]
    public void No_live_node_is_declared_dead_under_ten_percent_loss()
    {
        var seed = SimSeed.Get(4);
        var (net, nodes) = Converged(seed, 48);
        net.Loss = 0.10;
        net.Duplication = 0.02;
        var start = net.Events.Count;

        net.Run(TimeSpan.FromSeconds(60));

        var events = net.Events.Skip(start).ToList();
        var suspicions = events.Count(e => e.Kind == MemberEventKind.Suspected);
        var deaths = events.Where(e => e.Kind == MemberEventKind.Dead).ToList();
        Log($"60 s, 48 nodes, 10% loss: {suspicions} suspicions (all refuted), {deaths.Count} deaths, {net.Delivered} messages");
        Assert.True(deaths.Count == 0, $"{deaths.Count} false deaths, first {deaths.FirstOrDefault()} ({net.Replay})");
        net.Loss = 0;
        Assert.True(net.RunUntil(net.Converged, TimeSpan.FromSeconds(5)) is not null, $"not all alive after the loss stopped ({net.Replay})\n{net.Describe()}");
    }

    [Fact]
    public void A_briefly_partitioned_node_is_suspected_refutes_and_ends_alive_with_a_higher_incarnation()
    {
        var seed = SimSeed.Get(5);
        var (net, nodes) = Converged(seed, 16);
        var isolated = nodes[7];
        var start = net.Events.Count;

        net.Cut([isolated]);
        var suspected = net.RunUntil(() => net.Events.Skip(start).Any(e => e.Kind == MemberEventKind.Suspected && e.Member == isolated.Id), TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(10));
        Assert.True(suspected is not null, $"never suspected ({net.Replay})");
        net.Heal();
        var took = net.RunUntil(() => net.AllSee([isolated], MemberStatus.Alive) && nodes.All(n => n.Machine.Find(isolated.Id)!.Incarnation > 0), TimeSpan.FromSeconds(5));

        Assert.True(took is not null, $"not alive everywhere after heal ({net.Replay})\n{net.Describe([isolated])}");
        Assert.True(isolated.Machine.Self.Incarnation > 0, "the suspected node did not raise its incarnation");
        Assert.Contains(net.Events.Skip(start), e => e.Kind == MemberEventKind.Refuted && e.Observer == isolated && e.Member == isolated.Id);
        Assert.DoesNotContain(net.Events.Skip(start), e => e.Kind == MemberEventKind.Dead && e.Member == isolated.Id);
    }

    [Fact]
    public void A_partition_longer_than_the_suspicion_timeout_heals_back_to_all_alive()
    {
        var seed = SimSeed.Get(6);
        var (net, nodes) = Converged(seed, 32);
        var left = nodes.Take(16).ToList();
        var right = nodes.Skip(16).ToList();

        net.Cut(right);
        var split = net.RunUntil(() => net.AllSee(right, MemberStatus.Dead, left) && net.AllSee(left, MemberStatus.Dead, right), TimeSpan.FromSeconds(20));
        Assert.True(split is not null, $"the sides did not declare each other dead ({net.Replay})\n{net.Describe()}");
        net.Heal();
        var healed = net.RunUntil(net.Converged, Config.SyncInterval * 10);

        Log($"split took {split}, heal took {healed}");
        Assert.True(healed is not null, $"did not re-merge within {Config.SyncInterval * 10} ({net.Replay})\n{net.Describe()}");
    }

    [Fact]
    public void A_graceful_leave_is_seen_everywhere_quickly_and_never_suspected()
    {
        var seed = SimSeed.Get(7);
        var (net, nodes) = Converged(seed, 32);
        var leaver = nodes[9];
        var start = net.Events.Count;

        net.Leave(leaver);
        net.Run(Config.GossipInterval * 4);
        net.Crash(leaver);
        var took = net.RunUntil(() => net.AllSee([leaver], MemberStatus.Left), Config.ProbeInterval * 5, TimeSpan.FromMilliseconds(10));
        net.Run(Config.SuspicionTimeout(32) * Config.SuspicionMaxTimeoutMult);

        Assert.True(took is not null, $"Left not seen everywhere ({net.Replay})\n{net.Describe([leaver])}");
        Assert.True(net.AllSee([leaver], MemberStatus.Left), $"Left did not stick ({net.Replay})");
        Assert.DoesNotContain(net.Events.Skip(start), e => e.Member == leaver.Id && e.Kind is MemberEventKind.Suspected or MemberEventKind.Dead);
    }

    [Fact]
    public void A_restarted_node_rejoins_through_any_member_and_ends_alive_everywhere()
    {
        var seed = SimSeed.Get(8);
        var (net, nodes) = Converged(seed, 32);
        var victim = nodes[5];
        DetectCrash(net, victim);
        var deadAt = nodes[0].Machine.Find(victim.Id)!.Incarnation;

        net.Restart(victim, nodes[20]);
        var took = net.RunUntil(net.Converged, TimeSpan.FromSeconds(5));

        Assert.True(took is not null, $"restarted node not alive everywhere ({net.Replay})\n{net.Describe([victim])}");
        Assert.True(victim.Machine.Self.Incarnation > deadAt, $"incarnation {victim.Machine.Self.Incarnation} not above the dead one {deadAt}");
        Assert.Equal(32, victim.Machine.Members.Count(m => m.Status == MemberStatus.Alive));
    }

    [Fact]
    public void The_same_seed_gives_the_same_event_trace()
    {
        var seed = SimSeed.Get(9);
        static List<string> Run(int seed)
        {
            var net = new SimNetwork(seed, Config) { Loss = 0.05, Duplication = 0.05 };
            var nodes = net.AddNodes(16);
            foreach (var node in nodes.Skip(1)) net.Join(node, nodes[0]);
            net.Run(TimeSpan.FromSeconds(3));
            net.Crash(nodes[3]);
            net.Cut(nodes.Take(4));
            net.Run(TimeSpan.FromSeconds(3));
            net.Heal();
            net.Run(TimeSpan.FromSeconds(4));
            return net.Trace();
        }

        var first = Run(seed);
        var second = Run(seed);

        Assert.True(first.Count > 16 * 15, "the scenario produced too few events to compare");
        Assert.Equal(first, second);
        Assert.NotEqual(first, Run(seed + 1));
    }

    [Fact]
    public void Many_seeds_with_random_faults_end_converged_once_healed()
    {
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(1000, SimSeed.Schedules(50)).ToArray();
        foreach (var seed in seeds)
        {
            var net = new SimNetwork(seed, Config);
            var rng = new Random(seed);
            var nodes = net.AddNodes(8);
            foreach (var node in nodes.Skip(1)) net.Join(node, nodes[rng.Next(node.Index)]);
            net.Run(TimeSpan.FromSeconds(2));

            // Up to six random faults, each lasting a random while.
            net.Loss = rng.NextDouble() * 0.1;
            net.Duplication = rng.NextDouble() * 0.05;
            for (var fault = rng.Next(1, 7); fault > 0; fault--)
            {
                switch (rng.Next(4))
                {
                    case 0: net.Cut(nodes.Where(_ => rng.Next(2) == 0)); break;
                    case 1: net.Crash(nodes[rng.Next(nodes.Count)]); break;
                    case 2:
                        var down = nodes.FirstOrDefault(n => !n.Up);
                        var up = nodes.Where(n => n.Up).ToList();
                        if (down is not null && up.Count > 0) net.Restart(down, up[rng.Next(up.Count)]);
                        break;
                    default: net.Heal(); break;
                }
                net.Run(TimeSpan.FromMilliseconds(rng.Next(100, 4000)));
            }

            // Heal everything: every node up (restarted through a live one), no cut, no loss.
            net.Heal();
            net.Loss = 0;
            net.Duplication = 0;
            var live = nodes.First(n => n.Up);
            foreach (var node in nodes.Where(n => !n.Up)) net.Restart(node, live);
            var took = net.RunUntil(net.Converged, TimeSpan.FromSeconds(30));
            Assert.True(took is not null, $"not converged after healing ({net.Replay})\n{net.Describe()}");
        }
    }
}
