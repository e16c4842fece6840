using DinoMesh.Load.Runner;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// seq-write, seq-read-cold and seq-read-cached on one large file, in that order. The write's wall time runs from
/// the first write to the return of fsync + close, so data the kernel still holds in its page cache is not counted
/// as written. The cold read follows a sync + drop_caches; the cached read follows the cold read at once.
/// </summary>
public sealed class SequentialScenarios(FsWorkload workload, Payload payload, CacheControl caches)
{
    public IReadOnlyList<Scenario> Build(string runDirectory)
    {
        var path = Path.Combine(runDirectory, "sequential.dat");
        // Fresh stamps every run: a content-addressed target keeps the chunks of earlier runs, and the same bytes
        // written again would be deduplicated instead of written.
        var stamps = Payload.NewStampBase();
        return [Write(runDirectory, path, stamps), Read(ScenarioNames.SeqReadCold, path, dropFirst: true, deleteAfter: false, stamps),
            Read(ScenarioNames.SeqReadCached, path, dropFirst: false, deleteAfter: true, stamps)];
    }

    private Scenario Write(string runDirectory, string path, long stamps)
    {
        SafeFileHandle? handle = null;
        var buffer = payload.NewBuffer();
        var write = Step.Sync($"write {Size(workload.BlockSize)}", context =>
        {
            var offset = context.Iteration * workload.BlockSize;
            var length = (int)Math.Min(workload.BlockSize, workload.FileSize - offset);
            Payload.Stamp(buffer, stamps + context.Iteration, length);
            RandomAccess.Write(handle!, buffer.AsSpan(0, length), offset);
            return StepResult.Ok(length);
        });
        var finish = Step.Sync("fsync+close", _ =>
        {
            RandomAccess.FlushToDisk(handle!);
            handle!.Dispose();
            return StepResult.Ok();
        });
        return new Scenario(ScenarioNames.SeqWrite, [write], LoadSimulation.Iterations(workload.Blocks, workload.TimeLimit), Headline.MegabytesPerSecond)
        {
            Init = async ct =>
            {
                await caches.SettleAsync(ScenarioNames.SeqWrite, ct);
                Directory.CreateDirectory(runDirectory);
                handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
            },
            Finish = finish,
            Clean = _ =>
            {
                handle?.Dispose();
                return Task.CompletedTask;
            },
        };
    }

    private Scenario Read(string name, string path, bool dropFirst, bool deleteAfter, long stamps)
    {
        SafeFileHandle? handle = null;
        var buffer = new byte[workload.BlockSize];
        var read = Step.Sync($"read {Size(workload.BlockSize)}", context =>
        {
            var offset = context.Iteration * workload.BlockSize;
            var expected = (int)Math.Min(workload.BlockSize, workload.FileSize - offset);
            var got = 0;
            while (got < expected)
            {
                var n = RandomAccess.Read(handle!, buffer.AsSpan(got, expected - got), offset + got);
                if (n == 0) return StepResult.Fail($"short read: end of file at {offset + got}");
                got += n;
            }
            var wrong = payload.Verify(buffer.AsSpan(0, got), stamps + context.Iteration);
            return wrong is null ? StepResult.Ok(got) : StepResult.Fail(wrong);
        });
        return new Scenario(name, [read], LoadSimulation.Iterations(workload.Blocks, workload.TimeLimit), Headline.MegabytesPerSecond)
        {
            Init = async ct =>
            {
                if (dropFirst) await caches.DropAsync(name, ct);
                handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            },
            Clean = _ =>
            {
                handle?.Dispose();
                if (deleteAfter) File.Delete(path);
                return Task.CompletedTask;
            },
        };
    }

    internal static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{bytes >> 30} GiB",
        >= 1L << 20 when bytes % (1L << 20) == 0 => $"{bytes >> 20} MiB",
        >= 1L << 10 when bytes % (1L << 10) == 0 => $"{bytes >> 10} KiB",
        _ => $"{bytes} B",
    };
}
