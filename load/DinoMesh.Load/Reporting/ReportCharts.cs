namespace DinoMesh.Load.Reporting;

/// <summary>The two charts of a scenario run: throughput per step (and errors) over time, and p99 latency per step over time.</summary>
public static class ReportCharts
{
    public static string Throughput(ScenarioRecord run)
    {
        var megabytes = run.Unit == "MB/s";
        var series = run.Steps
            .Where(s => !megabytes || s.MegabytesPerSecond > 0)
            .Select(s => new ChartSeries(s.Step, s.Timeline.Select(b => (Mid(b), megabytes ? b.MegabytesPerSecond : b.OpsPerSecond)).ToList()))
            .ToList();
        if (run.Steps.Any(s => s.Failed > 0))
        {
            var errors = run.Steps[0].Timeline.Select((b, i) => (Mid(b), run.Steps.Sum(s => i < s.Timeline.Count ? s.Timeline[i].ErrorsPerSecond : 0))).ToList();
            series.Add(new ChartSeries("errors (all steps)", errors));
        }
        return SvgChart.Line($"{run.Scenario} on {run.Target}: throughput", megabytes ? "MB/s" : "calls/s", series);
    }

    public static string Latency(ScenarioRecord run) =>
        SvgChart.Line($"{run.Scenario} on {run.Target}: p99 latency", "p99 µs",
            run.Steps.Select(s => new ChartSeries(s.Step, s.Timeline.Where(b => b.Ok + b.Failed > 0).Select(b => (Mid(b), b.P99Microseconds)).ToList())).ToList(),
            logarithmic: true);

    private static double Mid(Runner.TimelineBucket b) => b.StartSeconds + b.Seconds / 2;
}
