using DinoMesh.Load.Platform;
using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// small-files: each iteration creates a small file (open O_CREAT|O_EXCL + write + close), reads it back and checks
/// every byte, and deletes it. Copies are dealt to the nodes in turn and each works in its own directory, so the
/// load is spread over the nodes and needs no shared tree (with one, the directories are simply disjoint).
/// </summary>
public sealed class SmallFilesScenario : ClusterScenario
{
    public const string ScenarioName = "small-files";

    public override string Name => ScenarioName;

    public override string Description => "small-file create, read and delete, copies spread over the nodes";

    public override Requirements Requirements { get; } = new();

    public override Scenario Build(ScenarioContext context)
    {
        var size = context.Workload.SmallFileSize;
        var payload = new Payload(Math.Max(size, Payload.Slot));
        var stamps = Payload.NewStampBase();
        var copies = context.Load.Copies;
        var buffers = Enumerable.Range(0, copies).Select(_ => payload.NewBuffer()).ToArray();
        var readBuffers = Enumerable.Range(0, copies).Select(_ => new byte[payload.Size]).ToArray();
        string PathOf(StepContext c) => Path.Combine(CopyDirectory(context, c.Copy), $"f{c.Iteration}");

        Step[] steps =
        [
            Step.Sync($"create {NodeFiles.Size(size)}", c => NodeFiles.CreateStamped(PathOf(c), buffers[c.Copy], size, stamps + c.Iteration)),
            Step.Sync("read", c => NodeFiles.ReadVerified(PathOf(c), payload, readBuffers[c.Copy], size, stamps + c.Iteration)),
            Step.Sync("delete", c => Posix.Unlink(PathOf(c)) is { } error ? StepResult.Fail(error) : StepResult.Ok()),
        ];
        return new Scenario(Name, steps, context.Load, Headline.OperationsPerSecond)
        {
            WarmUp = context.WarmUp,
            Init = async ct =>
            {
                for (var copy = 0; copy < copies; copy++) await context.EnsureDirectoryAsync(Name, Relative(context, copy), ct);
            },
            Clean = _ => context.RemoveScenarioDirectoryAsync(Name),
        };
    }

    private static string Relative(ScenarioContext context, int copy) => Path.Combine(context.NodeOf(copy).Name, $"c{copy}");

    private string CopyDirectory(ScenarioContext context, int copy) =>
        Path.Combine(context.ScenarioDirectory(context.NodeOf(copy), Name), Relative(context, copy));
}
