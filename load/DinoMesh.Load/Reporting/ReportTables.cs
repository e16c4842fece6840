using System.Globalization;

namespace DinoMesh.Load.Reporting;

/// <summary>
/// The tables of a report: medians with ratios to native and to bindfs, every run's value, per-step counts and
/// latencies, and fio. Shared by the console and markdown outputs so both always show the same numbers.
/// </summary>
public static class ReportTables
{
    public const string Native = "native";
    public const string Bindfs = "bindfs";

    public static TextTable Summary(BenchReport report)
    {
        var targets = report.Targets.Select(t => t.Name).ToList();
        var vsNative = targets.Contains(Native) ? targets.Where(t => t != Native).ToList() : [];
        var vsBindfs = targets.Contains(Bindfs) ? targets.Where(t => t is not Native and not Bindfs).ToList() : [];
        var headers = new List<string> { "scenario", "unit" };
        headers.AddRange(targets);
        headers.AddRange(vsNative.Select(t => $"{t} / native"));
        headers.AddRange(vsBindfs.Select(t => $"{t} / bindfs"));
        var table = new TextTable([.. headers]) { FirstNumericColumn = 2 };
        foreach (var scenario in report.Scenarios)
        {
            var median = scenario.Targets.ToDictionary(s => s.Target, s => s.Median);
            var row = new List<string> { scenario.Name, scenario.Unit };
            row.AddRange(targets.Select(t => Format.Number(median.GetValueOrDefault(t))));
            row.AddRange(vsNative.Select(t => Format.Ratio(median.GetValueOrDefault(t), median.GetValueOrDefault(Native))));
            row.AddRange(vsBindfs.Select(t => Format.Ratio(median.GetValueOrDefault(t), median.GetValueOrDefault(Bindfs))));
            table.Add([.. row]);
        }
        return table;
    }

    public static TextTable Runs(BenchReport report)
    {
        var runs = report.Workload.Runs;
        var headers = new List<string> { "scenario", "target" };
        headers.AddRange(Enumerable.Range(1, runs).Select(r => $"run {r}"));
        headers.Add("median");
        var table = new TextTable([.. headers]) { FirstNumericColumn = 2 };
        foreach (var scenario in report.Scenarios)
        {
            foreach (var series in scenario.Targets)
            {
                var row = new List<string> { scenario.Name, series.Target };
                row.AddRange(Enumerable.Range(0, runs).Select(i => i < series.Runs.Count ? Format.Number(series.Runs[i]) : "-"));
                row.Add(Format.Number(series.Median));
                table.Add([.. row]);
            }
        }
        return table;
    }

    public static TextTable Steps(BenchReport report)
    {
        var table = new TextTable("target", "scenario", "step", "count", "ok", "fail", "ops/s", "MB/s", "p50 us", "p90 us", "p99 us", "max us")
        {
            FirstNumericColumn = 3,
        };
        foreach (var target in report.Targets.Select(t => t.Name))
        {
            foreach (var scenario in report.Scenarios)
            {
                var series = scenario.Targets.FirstOrDefault(s => s.Target == target);
                foreach (var step in series?.Steps ?? [])
                {
                    table.Add(target, scenario.Name, step.Step, Format.Integer(step.Count), Format.Integer(step.Ok), Format.Integer(step.Failed),
                        Format.Number(step.OpsPerSecond), Format.Number(step.MegabytesPerSecond), Format.Number(step.P50Microseconds),
                        Format.Number(step.P90Microseconds), Format.Number(step.P99Microseconds), Format.Number(step.MaxMicroseconds));
                }
            }
        }
        return table;
    }

    public static TextTable Fio(BenchReport report)
    {
        var table = new TextTable("target", "job", "IOPS", "MB/s", "p50 us", "p99 us", "error") { FirstNumericColumn = 2 };
        foreach (var m in report.Fio)
        {
            table.Add(m.Target, m.Job, Format.Number(m.Iops), Format.Number(m.MegabytesPerSecond),
                Format.Number(m.P50Nanoseconds / 1e3), Format.Number(m.P99Nanoseconds / 1e3), m.Error ?? "");
        }
        return table;
    }

    /// <summary>Everything that makes a number untrustworthy or missing, one line each.</summary>
    public static IReadOnlyList<string> Problems(BenchReport report)
    {
        var lines = new List<string>();
        lines.AddRange(report.Targets.Where(t => t.Error is not null).Select(t => $"{t.Name}: {t.Error}"));
        foreach (var scenario in report.Scenarios)
        {
            foreach (var series in scenario.Targets)
            {
                lines.AddRange(series.Problems.Select(p => $"{series.Target} {scenario.Name} {p}"));
                foreach (var step in series.Steps)
                {
                    lines.AddRange(step.Errors.Select(e =>
                        $"{series.Target} {scenario.Name} '{step.Step}': {e.Value.ToString(CultureInfo.InvariantCulture)} x {e.Key}"));
                }
            }
        }
        lines.AddRange(report.Warnings);
        return lines;
    }
}
