using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// many-writers: every copy on every node creates small files in one and the same directory, the contention a
/// shared build or log directory sees. After the load, every node must list every file created anywhere (waited
/// for, bounded); how many each node lists goes into the report.
/// </summary>
public sealed class ManyWritersScenario : ClusterScenario
{
    public const string ScenarioName = "many-writers";

    public override string Name => ScenarioName;

    public override string Description => "every copy on every node creates small files in one shared directory";

    public override Requirements Requirements { get; } = new(SharedNames: true);

    public override Scenario Build(ScenarioContext context)
    {
        var size = context.Workload.SmallFileSize;
        var payload = new Payload(Math.Max(size, Payload.Slot));
        var stamps = Payload.NewStampBase();
        var buffers = Enumerable.Range(0, context.Load.Copies).Select(_ => payload.NewBuffer()).ToArray();
        long created = 0;
        string Shared(Cluster.LoadNode node) => Path.Combine(context.ScenarioDirectory(node, Name), "shared");

        Step[] steps =
        [
            Step.Sync($"create {NodeFiles.Size(size)}", c =>
            {
                var node = context.NodeOf(c.Copy);
                var result = NodeFiles.CreateStamped(Path.Combine(Shared(node), $"{node.Name}-{c.Iteration}"), buffers[c.Copy], size, stamps + c.Iteration);
                Interlocked.Increment(ref created);
                return result;
            }),
        ];
        return new Scenario(Name, steps, context.Load, Headline.OperationsPerSecond)
        {
            WarmUp = context.WarmUp,
            Init = ct => context.EnsureDirectoryAsync(Name, "shared", ct),
            Findings = () => Listings(context, Shared, Interlocked.Read(ref created)),
            Clean = _ => context.RemoveScenarioDirectoryAsync(Name),
        };
    }

    /// <summary>Waits (bounded) until every node lists every file, then says what each listed.</summary>
    private static IReadOnlyList<string> Listings(ScenarioContext context, Func<Cluster.LoadNode, string> shared, long created)
    {
        var counts = new Dictionary<string, long>();
        var deadline = DateTime.UtcNow + context.Workload.PropagationTimeout;
        do
        {
            foreach (var node in context.Nodes) counts[node.Name] = Directory.EnumerateFiles(shared(node)).LongCount();
            if (counts.Values.All(c => c >= created)) break;
            Thread.Sleep(50);
        }
        while (DateTime.UtcNow < deadline);
        var incomplete = counts.Where(c => c.Value < created).ToList();
        return
        [
            $"files in the shared directory (warm-up included): {created:N0} created, listed by " + string.Join(", ", counts.Select(c => $"{c.Key} {c.Value:N0}")),
            incomplete.Count == 0 ? "every node lists every file" : $"INCOMPLETE after {context.Workload.PropagationTimeout.TotalSeconds:0.#} s: {string.Join(", ", incomplete.Select(c => c.Key))}",
        ];
    }
}
