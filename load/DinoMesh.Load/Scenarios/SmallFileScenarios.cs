using DinoMesh.Load.Platform;
using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// small-create, stat-all and delete-all over a tree of about sqrt(N) directories of sqrt(N) files (100 x 100 for
/// 10,000). Making the directories is untimed set-up; each timed call is one whole file operation as an application
/// sees it (open O_CREAT|O_EXCL + write + close; stat; unlink).
/// </summary>
public sealed class SmallFileScenarios(FsWorkload workload, Payload payload, CacheControl caches)
{
    private const long FirstStamp = 1L << 40; // keeps small-file stamps apart from the sequential file's blocks

    public IReadOnlyList<Scenario> Build(string runDirectory)
    {
        var treeRoot = Path.Combine(runDirectory, "small");
        var perDirectory = Math.Max(1, (int)Math.Ceiling(Math.Sqrt(workload.SmallFiles)));
        var directories = Enumerable.Range(0, (workload.SmallFiles + perDirectory - 1) / perDirectory)
            .Select(d => Path.Combine(treeRoot, $"d{d:D3}"))
            .ToArray();
        var files = Enumerable.Range(0, workload.SmallFiles)
            .Select(i => Path.Combine(directories[i / perDirectory], $"f{i:D6}"))
            .ToArray();
        var load = LoadSimulation.Iterations(workload.SmallFiles, workload.TimeLimit, workload.Copies);
        return [Create(treeRoot, directories, files, load, FirstStamp + Payload.NewStampBase()), Stat(files, load), Delete(runDirectory, files, load)];
    }

    private Scenario Create(string treeRoot, string[] directories, string[] files, LoadSimulation load, long stamps)
    {
        var buffers = Enumerable.Range(0, workload.Copies).Select(_ => payload.NewBuffer()).ToArray();
        var create = Step.Sync($"create+write {SequentialScenarios.Size(workload.SmallFileSize)}+close", context =>
        {
            var buffer = buffers[context.Copy].AsSpan(0, workload.SmallFileSize);
            Payload.Stamp(buffer, stamps + context.Iteration, buffer.Length);
            return Posix.CreateExclusive(files[context.Iteration], buffer) is { } error ? StepResult.Fail(error) : StepResult.Ok(buffer.Length);
        });
        return new Scenario(ScenarioNames.SmallCreate, [create], load, Headline.OperationsPerSecond)
        {
            Init = async ct =>
            {
                await caches.SettleAsync(ScenarioNames.SmallCreate, ct);
                Directory.CreateDirectory(treeRoot);
                foreach (var directory in directories) Directory.CreateDirectory(directory);
            },
        };
    }

    private Scenario Stat(string[] files, LoadSimulation load)
    {
        var stat = Step.Sync("stat", context =>
        {
            var info = new FileInfo(files[context.Iteration]);
            if (!info.Exists) return StepResult.Fail("missing");
            return info.Length == workload.SmallFileSize ? StepResult.Ok() : StepResult.Fail($"size {info.Length}");
        });
        return new Scenario(ScenarioNames.StatAll, [stat], load, Headline.OperationsPerSecond);
    }

    private Scenario Delete(string runDirectory, string[] files, LoadSimulation load)
    {
        var unlink = Step.Sync("unlink", context =>
            Posix.Unlink(files[context.Iteration]) is { } error ? StepResult.Fail(error) : StepResult.Ok());
        return new Scenario(ScenarioNames.DeleteAll, [unlink], load, Headline.OperationsPerSecond)
        {
            // Whatever an earlier failure left behind goes too: each run starts from an empty directory.
            Clean = _ =>
            {
                if (Directory.Exists(runDirectory)) Directory.Delete(runDirectory, recursive: true);
                return Task.CompletedTask;
            },
        };
    }
}
