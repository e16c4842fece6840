using DinoMesh.Load.Platform;
using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// large-file: the first node writes a large file sequentially (fsync included), another node waits until it sees
/// the whole file and reads it back, checking every block, and the writer deletes it. On one node the same node
/// reads. Across nodes it needs chunk exchange: the reader has none of the file's chunks (unless it is one of their
/// placement nodes). Before the read the kernel's caches are flushed and dropped (its own step, needs root), so the
/// read is cold on the serving side too: the writer's chunk files come from the disk, not the page cache.
/// </summary>
public sealed class LargeFileScenario : ClusterScenario
{
    public const string ScenarioName = "large-file";

    public override string Name => ScenarioName;

    public override string Description => "large sequential write (fsync) on the first node, read and checked on the second";

    public override Requirements Requirements { get; } = new(SharedNames: true, SharedContent: true);

    public override int DefaultCopies(int nodes) => 1;

    public override Scenario Build(ScenarioContext context)
    {
        var workload = context.Workload;
        var writer = context.Nodes[0];
        var reader = context.Nodes[Math.Min(1, context.Nodes.Count - 1)];
        var payload = new Payload(workload.BlockSize);
        var stamps = Payload.NewStampBase();
        var writeBuffers = Enumerable.Range(0, context.Load.Copies).Select(_ => payload.NewBuffer()).ToArray();
        var readBuffers = Enumerable.Range(0, context.Load.Copies).Select(_ => new byte[workload.BlockSize]).ToArray();
        // Each file gets its own stamp range so no two files (and no two runs) share a chunk.
        long StampsOf(StepContext c) => stamps + (c.Iteration << 20);
        string On(Cluster.LoadNode node, StepContext c) => Path.Combine(context.ScenarioDirectory(node, Name), $"big-{c.Iteration}");

        var steps = new List<Step>
        {
            Step.Sync($"write {NodeFiles.Size(workload.FileSize)} on {writer.Name}", c =>
            {
                NodeFiles.WriteLarge(On(writer, c), workload.FileSize, writeBuffers[c.Copy], StampsOf(c), c.CancellationToken);
                return StepResult.Ok(workload.FileSize);
            }),
        };
        if (reader != writer)
        {
            steps.Add(Step.Sync($"whole file seen on {reader.Name}", c =>
                NodeFiles.PollUntil(() => NodeFiles.LengthOf(On(reader, c)) == workload.FileSize, workload.PropagationTimeout, $"{reader.Name} saw no complete file")));
        }
        var warned = 0;
        steps.Add(new Step("sync + drop caches", async c =>
        {
            if (await PageCache.DropAsync(c.CancellationToken) is { } problem && Interlocked.Exchange(ref warned, 1) == 0)
            {
                context.Log($"{Name}: caches not dropped, the read is not cold: {problem}");
            }
            return StepResult.Ok();
        }));
        steps.Add(Step.Sync($"read on {reader.Name}", c =>
            NodeFiles.ReadLargeVerified(On(reader, c), workload.FileSize, payload, readBuffers[c.Copy], StampsOf(c), c.CancellationToken) is { } wrong
                ? StepResult.Fail(wrong)
                : StepResult.Ok(workload.FileSize)));
        steps.Add(Step.Sync($"delete on {writer.Name}", c => Posix.Unlink(On(writer, c)) is { } error ? StepResult.Fail(error) : StepResult.Ok()));
        return new Scenario(Name, steps, context.Load, Headline.MegabytesPerSecond)
        {
            WarmUp = context.WarmUp,
            Init = ct => context.EnsureDirectoryAsync(Name, ".", ct),
            Clean = _ => context.RemoveScenarioDirectoryAsync(Name),
        };
    }
}
