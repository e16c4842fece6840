using DinoMesh.Load.Platform;
using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// propagation: how long a change made on one node takes to show on another, for a create, a rename and an append.
/// Each "seen on" step starts when the change's system call has returned on the first node and polls (every
/// millisecond, through the kernel as an application would) until the second node shows it; its latency is the
/// propagation delay. Iteration i changes on node i mod N and watches on node i+1 mod N.
/// </summary>
public sealed class PropagationScenario : ClusterScenario
{
    public const string ScenarioName = "propagation";
    private const int AppendBytes = 4096;

    public override string Name => ScenarioName;

    public override string Description => "delay until a create, a rename and an append made on one node show on the next";

    public override Requirements Requirements { get; } = new(MinNodes: 2, SharedNames: true);

    public override int DefaultCopies(int nodes) => 1;

    public override Scenario Build(ScenarioContext context)
    {
        var nodes = context.Nodes;
        var timeout = context.Workload.PropagationTimeout;
        var data = new byte[AppendBytes];
        Random.Shared.NextBytes(data);
        Cluster.LoadNode A(StepContext c) => nodes[(int)(c.Iteration % nodes.Count)];
        Cluster.LoadNode B(StepContext c) => nodes[(int)((c.Iteration + 1) % nodes.Count)];
        string Created(Cluster.LoadNode node, StepContext c) => Path.Combine(context.ScenarioDirectory(node, Name), $"p{c.Iteration}");
        string Renamed(Cluster.LoadNode node, StepContext c) => Path.Combine(context.ScenarioDirectory(node, Name), $"q{c.Iteration}");

        Step[] steps =
        [
            Step.Sync("create", c =>
            {
                File.OpenHandle(Created(A(c), c), FileMode.CreateNew, FileAccess.Write).Dispose();
                return StepResult.Ok();
            }),
            Step.Sync("create seen", c => NodeFiles.PollUntil(() => File.Exists(Created(B(c), c)), timeout, $"create not seen on {B(c).Name}")),
            Step.Sync("rename", c => Posix.Rename(Created(A(c), c), Renamed(A(c), c)) is { } e ? StepResult.Fail(e) : StepResult.Ok()),
            Step.Sync("rename seen", c => NodeFiles.PollUntil(() => File.Exists(Renamed(B(c), c)) && !File.Exists(Created(B(c), c)), timeout,
                $"rename not seen on {B(c).Name}")),
            Step.Sync($"append {NodeFiles.Size(AppendBytes)}", c =>
            {
                using var stream = new FileStream(Renamed(A(c), c), FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 1);
                stream.Write(data);
                return StepResult.Ok(AppendBytes);
            }),
            Step.Sync("append seen", c => NodeFiles.PollUntil(() => NodeFiles.LengthOf(Renamed(B(c), c)) == AppendBytes, timeout,
                $"append not seen on {B(c).Name}")),
            Step.Sync("delete", c => Posix.Unlink(Renamed(A(c), c)) is { } e ? StepResult.Fail(e) : StepResult.Ok()),
        ];
        return new Scenario(Name, steps, context.Load, Headline.OperationsPerSecond)
        {
            WarmUp = context.WarmUp,
            Init = ct => context.EnsureDirectoryAsync(Name, ".", ct),
            Clean = _ => context.RemoveScenarioDirectoryAsync(Name),
        };
    }
}
