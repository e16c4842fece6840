using DinoMesh.Load.Cli;
using DinoMesh.Load.Platform;
using DinoMesh.Load.Reporting;
using DinoMesh.Load.Scenarios;

namespace DinoMesh.Load.Tests;

public sealed class BenchSuiteTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dino-load-suite-");

    [Fact]
    public async Task A_tiny_run_on_native_and_bindfs_measures_every_scenario_and_leaves_nothing_behind()
    {
        FuseEnvironment.Require();
        var work = Directory.CreateDirectory(Path.Combine(_temp.FullName, "work")).FullName;
        var output = Path.Combine(_temp.FullName, "results");
        var options = new BenchOptions(["native", "bindfs"], Runs: 2, FileSize: 4L << 20, BlockSize: 1 << 20, SmallFiles: 60,
            SmallFileSize: 4096, Copies: 2, ScenarioTimeLimit: TimeSpan.FromSeconds(60), Fio: false, FioSize: 1 << 20,
            FioRuntime: TimeSpan.FromSeconds(1), WorkDirectory: work, OutputDirectory: output, DinoDll: "/nonexistent",
            MountTimeout: TimeSpan.FromSeconds(20), StopTimeout: TimeSpan.FromSeconds(10), Command: "test",
            DropCaches: false); // drop_caches is machine-wide: a unit test must not take other work's cache away

        var report = await new BenchSuite(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken);
        var paths = ReportWriter.Save(report, output);

        Assert.All(report.Targets, t => Assert.Null(t.Error));
        Assert.Contains(report.Warnings, w => w.Contains("--no-drop-caches", StringComparison.Ordinal));
        Assert.Equal(ScenarioNames.All, report.Scenarios.Select(s => s.Name));
        foreach (var series in report.Scenarios.SelectMany(s => s.Targets))
        {
            Assert.Equal(2, series.Runs.Count);
            Assert.Empty(series.Problems);
            Assert.NotNull(series.Median);
        }
        var create = report.Scenarios.Single(s => s.Name == ScenarioNames.SmallCreate).Targets.Single(t => t.Target == "bindfs");
        Assert.Equal(120, create.Steps.Single().Ok);
        Assert.Empty(Directory.GetFileSystemEntries(work));
        Assert.DoesNotContain(MountTable.Read(), m => m.MountPoint.StartsWith(work, StringComparison.Ordinal));
        Assert.Equal(3, paths.Count);
        Assert.Contains("bindfs / native", await File.ReadAllTextAsync(paths[1], TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        foreach (var mount in MountTable.Read().Where(m => m.MountPoint.StartsWith(_temp.FullName, StringComparison.Ordinal)))
        {
            Unmount.RunAsync(mount.MountPoint).GetAwaiter().GetResult();
        }
        _temp.Delete(recursive: true);
    }
}
