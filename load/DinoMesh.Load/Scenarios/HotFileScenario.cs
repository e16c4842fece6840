using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// hot-file: one file, written once on the first node, read whole (and checked) over and over by copies on every
/// node: the "everyone reads the same config / model / binary" pattern. Across nodes it needs chunk exchange.
/// </summary>
public sealed class HotFileScenario : ClusterScenario
{
    public const string ScenarioName = "hot-file";

    public override string Name => ScenarioName;

    public override string Description => "one file written on the first node, read whole by copies on every node";

    public override Requirements Requirements { get; } = new(SharedNames: true, SharedContent: true);

    public override Scenario Build(ScenarioContext context)
    {
        var workload = context.Workload;
        var payload = new Payload(workload.BlockSize);
        var stamps = Payload.NewStampBase();
        var buffers = Enumerable.Range(0, context.Load.Copies).Select(_ => new byte[workload.BlockSize]).ToArray();
        string Hot(Cluster.LoadNode node) => Path.Combine(context.ScenarioDirectory(node, Name), "hot.dat");

        Step[] steps =
        [
            Step.Sync($"read {NodeFiles.Size(workload.HotFileSize)}", c =>
                NodeFiles.ReadLargeVerified(Hot(context.NodeOf(c.Copy)), workload.HotFileSize, payload, buffers[c.Copy], stamps, c.CancellationToken) is { } wrong
                    ? StepResult.Fail(wrong)
                    : StepResult.Ok(workload.HotFileSize)),
        ];
        return new Scenario(Name, steps, context.Load, Headline.OperationsPerSecond)
        {
            WarmUp = context.WarmUp,
            Init = async ct =>
            {
                await context.EnsureDirectoryAsync(Name, ".", ct);
                NodeFiles.WriteLarge(Hot(context.Nodes[0]), workload.HotFileSize, payload.NewBuffer(), stamps, ct);
                foreach (var node in context.Nodes.Skip(1))
                {
                    await NodeFiles.WaitUntilAsync(() => NodeFiles.LengthOf(Hot(node)) == workload.HotFileSize, workload.PropagationTimeout, ct,
                        $"the hot file written on {context.Nodes[0].Name} did not show whole on {node.Name}");
                }
            },
            Clean = _ => context.RemoveScenarioDirectoryAsync(Name),
        };
    }
}
