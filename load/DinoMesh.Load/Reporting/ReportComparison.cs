using System.Text.Json;

namespace DinoMesh.Load.Reporting;

/// <summary>
/// <c>--compare REPORT</c>: this run beside an earlier one, step by step (matched by scenario, target and step name),
/// with ratios now / before for throughput and p99 latency.
/// </summary>
public static class ReportComparison
{
    /// <summary>Reads an earlier report: its .json, or the .md / .html / .txt next to one with the same name.</summary>
    public static LoadReport Load(string path)
    {
        var json = Path.GetExtension(path) == ".json" ? path : Path.ChangeExtension(path, ".json");
        if (!File.Exists(json)) throw new FileNotFoundException($"--compare: {json} does not exist (give the .json a run wrote)");
        return JsonSerializer.Deserialize<LoadReport>(File.ReadAllText(json), LoadReportWriter.Json)
            ?? throw new InvalidDataException($"--compare: {json} holds no report");
    }

    public static TextTable Table(LoadReport now, LoadReport before)
    {
        var table = new TextTable("scenario", "target", "step", "ops/s before", "ops/s now", "now/before", "p99 us before", "p99 us now", "now/before")
        {
            FirstNumericColumn = 3,
        };
        foreach (var run in now.Scenarios)
        {
            var earlier = before.Scenarios.FirstOrDefault(s => s.Scenario == run.Scenario && s.Target == run.Target);
            foreach (var step in run.Steps)
            {
                var old = earlier?.Steps.FirstOrDefault(s => s.Step == step.Step);
                table.Add(run.Scenario, run.Target, step.Step,
                    Format.Number(old?.OpsPerSecond), Format.Number(step.OpsPerSecond), Format.Ratio(step.OpsPerSecond, old?.OpsPerSecond),
                    Format.Number(old?.P99Microseconds), Format.Number(step.P99Microseconds), Format.Ratio(step.P99Microseconds, old?.P99Microseconds));
            }
            if (run.Steps.Count == 0 && earlier is not null)
            {
                table.Add(run.Scenario, run.Target, $"({run.Status.ToString().ToLowerInvariant()})", "", "", "", "", "", "");
            }
        }
        return table;
    }
}
