using DinoMesh.Node.Tests.Cluster;

namespace DinoMesh.Node.Tests.RandomOps;

/// <summary>
/// Random POSIX operations through the mounts of a real 3-node cluster, each checked against the same operation on a
/// native directory (the oracle for errno and results), with whole-tree comparisons at checkpoints: see
/// <see cref="RandomOpsRun"/> for the consistency rule relied on. In CI a couple of fixed seeds run within about a
/// minute; by hand, <c>DINOMESH_RANDOMOPS_SEED</c> (one seed, a list "1,5,9" or a range "1-40") replays or explores,
/// <c>DINOMESH_RANDOMOPS_OPS</c> sets the ops per seed and <c>DINOMESH_RANDOMOPS_SECONDS</c> the time bound of the
/// whole run; <c>DINOMESH_RANDOMOPS_CLOSE_TO_OPEN=1</c> issues reads that no name change preceded without waiting
/// (close-to-open alone). With it, before the fix of 2026-12-07 (DinoFileSystem.NeedsFreshSize: the first open of a
/// file changed elsewhere answers ESTALE so the kernel takes the new size from a lookup), seed 400 (300 ops per seed, run after seeds 300-399 on one
/// cluster) read a file that node a had just truncated to 2,098,384 bytes as 3,145,728 bytes on node b, which had
/// written it before (b's kernel kept the old size: the open only marks cached attributes stale, a read within the
/// stale size does not refresh them, and the size a short read would set is dropped when an invalidation raced it, so
/// the read ran on as zeros to the next 1 MiB request). It did not replay in 2 runs of that seed alone. An odd seed also kills a node that does not hold the lease (SIGKILL) at a seeded op and restarts it on
/// its data directory later; it must converge to the oracle's tree.
/// </summary>
public sealed class RandomOpsTests(ITestOutputHelper output)
{
    private static readonly int[] CiSeeds = [1, 2, 3];

    [Fact]
    public void Random_ops_on_three_nodes_agree_with_a_native_directory()
    {
        var seeds = Environment.GetEnvironmentVariable("DINOMESH_RANDOMOPS_SEED") is { Length: > 0 } text ? ParseSeeds(text) : CiSeeds;
        var ops = int.TryParse(Environment.GetEnvironmentVariable("DINOMESH_RANDOMOPS_OPS"), out var n) ? n : 400;
        var budget = TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("DINOMESH_RANDOMOPS_SECONDS"), out var s) ? s : 45);
        RunSeeds(seeds, ops, budget, closeToOpen: Environment.GetEnvironmentVariable("DINOMESH_RANDOMOPS_CLOSE_TO_OPEN") == "1");
    }

    /// <summary>
    /// Two seeds (one with a kill -9) with reads that rely on close-to-open alone (<see cref="RandomOpsRun.CloseToOpenReads"/>):
    /// what seed 400 found (a file shrunk elsewhere read past its new end) is fixed, and 201 seeds of 300 ops each found
    /// nothing more (docs/benchmarks.md, "Bug hunt through real mounts"), so CI keeps this mode in step as well.
    /// </summary>
    [Fact]
    public void Close_to_open_reads_on_three_nodes_agree_with_a_native_directory() => RunSeeds([4, 5], 300, TimeSpan.FromSeconds(45), closeToOpen: true);

    /// <summary>
    /// Seed 59: a name created on c right after a had missed it (its kernel caching the miss) was still missing on a
    /// once a's status said the create was applied (a race: this seed hit it in 1 of 8 runs on
    /// the old build, so this test passing says little; the focused test is Volume.Tests' InvalidationWrittenTests).
    /// </summary>
    [Fact]
    public void Seed_59_a_name_created_elsewhere_is_found_once_the_node_reports_it_applied() => RunSeeds([59], 63, TimeSpan.FromSeconds(60), closeToOpen: false);

    /// <summary>Runs each seed in a directory of its own on one cluster, until the ops or the time budget run out.</summary>
    private void RunSeeds(IReadOnlyList<int> seeds, int ops, TimeSpan budget, bool closeToOpen)
    {
        Requirement.RootAndFuse();
        using var cluster = new TestCluster(output);
        NodeProcess[] nodes = [cluster.Add("a", "127.0.0.11"), cluster.Add("b", "127.0.0.12"), cluster.Add("c", "127.0.0.13")];
        cluster.Form(nodes);
        // A kill of one node must leave a majority: all three vote first.
        cluster.WaitForVoters(nodes, 3);
        var oracle = Directory.CreateTempSubdirectory("dinomesh-randomops-").FullName;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var total = 0;
        var ran = 0;
        try
        {
            foreach (var seed in seeds)
            {
                if (clock.Elapsed >= budget) break;
                var subdirectory = $"seed{seed}";
                Directory.CreateDirectory(Path.Combine(oracle, subdirectory));
                Assert.Equal(0, Libc.Mkdir(Path.Combine(nodes[0].MountPoint, subdirectory), 0x1ED));
                var random = new Random(seed);
                var run = new RandomOpsRun(seed, nodes, Path.Combine(oracle, subdirectory), line => cluster.Log(line))
                {
                    Subdirectory = subdirectory,
                    KillAt = seed % 2 == 1 ? random.Next(ops / 4, ops / 2 + 1) : null,
                    CloseToOpenReads = closeToOpen,
                };
                total += run.Run(ops, budget - clock.Elapsed);
                ran++;
            }
        }
        finally
        {
            cluster.Log($"{ran} seeds, {total} ops in {clock.Elapsed.TotalSeconds:F1} s");
            Directory.Delete(oracle, recursive: true);
        }
    }

    private static int[] ParseSeeds(string text) =>
    [
        .. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).SelectMany(part =>
            part.Split('-') is [var from, var to] ? Enumerable.Range(int.Parse(from), int.Parse(to) - int.Parse(from) + 1) : [int.Parse(part)]),
    ];
}
