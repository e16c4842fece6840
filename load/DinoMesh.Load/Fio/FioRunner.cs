using System.Globalization;
using System.Text.Json;
using DinoMesh.Load.Platform;
using DinoMesh.Load.Scenarios;
using DinoMesh.Load.Targets;

namespace DinoMesh.Load.Fio;

/// <summary>
/// Runs fio's 4 KiB random write then (after dropping caches) random read on a target, with psync (one call at a
/// time, as an application would) and buffered I/O (FUSE targets need not support O_DIRECT). Each job stops at
/// <see cref="Size"/> bytes or <see cref="Runtime"/>, whichever comes first, and the process is killed past that.
/// </summary>
public sealed class FioRunner(long size, TimeSpan runtime, CacheControl caches)
{
    public long Size => size;

    public TimeSpan Runtime => runtime;

    public async Task<IReadOnlyList<FioMeasurement>> RunAsync(BenchTarget target, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(target.Root, "fio");
        Directory.CreateDirectory(directory);
        try
        {
            var write = await RunJobAsync(target.Name, "randwrite", directory, cancellationToken);
            await caches.DropAsync("fio randread", cancellationToken);
            var read = await RunJobAsync(target.Name, "randread", directory, cancellationToken);
            return [write, read];
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private async Task<FioMeasurement> RunJobAsync(string target, string rw, string directory, CancellationToken cancellationToken)
    {
        string[] arguments =
        [
            "--output-format=json", $"--name={rw}", $"--directory={directory}", "--filename=fio.dat", $"--rw={rw}", "--bs=4k",
            $"--size={size}", "--ioengine=psync", "--numjobs=1", $"--runtime={(int)Math.Ceiling(runtime.TotalSeconds)}",
            "--fallocate=none", "--end_fsync=1",
        ];
        var outcome = await ExternalProcess.RunAsync("fio", arguments, runtime + TimeSpan.FromSeconds(60), cancellationToken);
        if (!outcome.Succeeded)
        {
            var why = outcome.TimedOut ? "timed out" : $"exit {outcome.ExitCode}: {outcome.StandardError.Trim()}";
            return new FioMeasurement(target, rw, null, null, null, null, $"fio {why}");
        }
        return Parse(target, rw, outcome.StandardOutput);
    }

    /// <summary>Reads iops, bandwidth and completion-latency percentiles of the job's read or write side.</summary>
    internal static FioMeasurement Parse(string target, string rw, string json)
    {
        // fio may print warnings before the JSON document.
        var start = json.IndexOf('{', StringComparison.Ordinal);
        if (start < 0) return new FioMeasurement(target, rw, null, null, null, null, "fio printed no JSON");
        using var document = JsonDocument.Parse(json[start..]);
        var job = document.RootElement.GetProperty("jobs")[0];
        var errorCode = job.GetProperty("error").GetInt32();
        var side = job.GetProperty(rw.Contains("read", StringComparison.Ordinal) ? "read" : "write");
        var percentiles = side.GetProperty("clat_ns").TryGetProperty("percentile", out var p) ? p : default;
        return new FioMeasurement(
            target,
            rw,
            side.GetProperty("iops").GetDouble(),
            side.GetProperty("bw_bytes").GetDouble() / 1e6,
            Percentile(percentiles, 50),
            Percentile(percentiles, 99),
            errorCode == 0 ? null : $"fio job error {errorCode}");
    }

    private static long? Percentile(JsonElement percentiles, double which) =>
        percentiles.ValueKind == JsonValueKind.Object
        && percentiles.TryGetProperty(which.ToString("0.000000", CultureInfo.InvariantCulture), out var value)
            ? value.GetInt64()
            : null;
}
