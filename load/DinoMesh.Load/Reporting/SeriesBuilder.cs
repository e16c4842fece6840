using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Reporting;

/// <summary>Collects the runs of every (scenario, target) pair and turns them into <see cref="ScenarioSummary"/> rows.</summary>
public sealed class SeriesBuilder
{
    private readonly Dictionary<(string Scenario, string Target), List<ScenarioResult>> _runs = [];
    private readonly List<string> _scenarioOrder = [];
    private readonly Dictionary<string, Headline> _headlines = [];

    public void Add(string target, ScenarioResult result)
    {
        if (!_headlines.ContainsKey(result.Name))
        {
            _scenarioOrder.Add(result.Name);
            _headlines[result.Name] = result.Headline;
        }
        var key = (result.Name, target);
        if (!_runs.TryGetValue(key, out var list)) _runs[key] = list = [];
        list.Add(result);
    }

    public IReadOnlyList<ScenarioSummary> Build(IReadOnlyList<string> targets) =>
        _scenarioOrder.Select(name => new ScenarioSummary(
                name,
                _headlines[name] == Headline.MegabytesPerSecond ? "MB/s" : "ops/s",
                targets.Select(t => Series(name, t)).ToList()))
            .ToList();

    private TargetSeries Series(string scenario, string target)
    {
        var runs = _runs.GetValueOrDefault((scenario, target)) ?? [];
        var values = runs.Select(r => r.HeadlineValue).ToList();
        var problems = runs.Select((r, i) => Problem(r, i + 1)).OfType<string>().Distinct().ToList();
        return new TargetSeries(target, values, Median.Of(values), Steps(runs), problems);
    }

    private static string? Problem(ScenarioResult run, int number) => run switch
    {
        { Error: { } error } => $"run {number}: {error}",
        { StopReason: not StopReason.Completed } => $"run {number}: stopped ({run.StopReason}) after {run.CompletedIterations} iterations",
        { FailedCalls: > 0 } => $"run {number}: {run.FailedCalls} failed calls",
        _ => null,
    };

    private static List<StepSummary> Steps(List<ScenarioResult> runs)
    {
        var wall = runs.Sum(r => r.Wall.TotalSeconds);
        var merged = new List<StepStats>();
        foreach (var step in runs.SelectMany(r => r.Steps))
        {
            var into = merged.Find(m => m.Name == step.Name);
            if (into is null) merged.Add(into = new StepStats(step.Name));
            into.Add(step);
        }
        return merged.Select(s => new StepSummary(
                s.Name,
                s.Count,
                s.Ok,
                s.Failed,
                wall > 0 ? s.Count / wall : 0,
                wall > 0 ? s.Bytes / wall / 1e6 : 0,
                s.Latency.ValueAtPercentile(50) / 1e3,
                s.Latency.ValueAtPercentile(90) / 1e3,
                s.Latency.ValueAtPercentile(99) / 1e3,
                s.Latency.Max / 1e3,
                s.Errors.ToDictionary()))
            .ToList();
    }
}
