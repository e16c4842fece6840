using DinoMesh.Load.Reporting;
using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Tests;

/// <summary>Synthetic reports for the renderers' tests.</summary>
internal static class Reports
{
    public static readonly MachineInfo Machine = new("test cpu", 2, 4, "6.1", "Debian", ".NET", "ext4");

    public static StepRecord Step(string name, double opsPerSecond, double p99, long failed = 0, int seconds = 10) =>
        new(name, (long)(opsPerSecond * seconds), (long)(opsPerSecond * seconds) - failed, failed, opsPerSecond, 0, p99 / 3, p99 / 2, p99, p99 * 3,
            failed > 0 ? new Dictionary<string, long> { ["IOException: Transport endpoint is not connected"] = failed } : new Dictionary<string, long>(),
            Enumerable.Range(0, seconds).Select(s => new TimelineBucket(s, 1, (long)(opsPerSecond * (0.8 + 0.4 * (s % 3) / 2)), s == 4 ? failed : 0, 0,
                p99 / 3, p99 * (1 + s % 2), p99 * 3)).ToList());

    public static LoadReport Sample(double opsPerSecond, double p99) => Report(
        new ScenarioRecord("small-files", "dino", ScenarioStatus.Measured, null, "ops/s", opsPerSecond, 10, (long)(opsPerSecond * 10), 0,
            [Step("create 4 KiB", opsPerSecond, p99), Step("read", opsPerSecond, p99 / 2), Step("delete", opsPerSecond, p99 / 4)], []));

    public static LoadReport Report(params ScenarioRecord[] scenarios) => new(
        new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero), 42, "dino-load test", Machine, "0.1 0.2 0.3", "0.4 0.5 0.6",
        "keep 6 copies for 10 s", 3,
        [new TargetRecord("dino", "3 local dino-node processes", [new NodeRecord("node1", "/m1", "127.0.0.2:1")], "None", "not shared", "no holder", null, [])],
        scenarios, []);
}
