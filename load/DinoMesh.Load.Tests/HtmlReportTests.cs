using System.Text.RegularExpressions;
using DinoMesh.Load.Platform;
using DinoMesh.Load.Reporting;

namespace DinoMesh.Load.Tests;

/// <summary>
/// The HTML report opened in headless Chromium (Debian's package, run with no network features and a fresh
/// profile): the page's own script counts the charts the browser has laid out, and the DOM it dumps must show
/// every scenario, every step of every scenario that ran, and the reason for every one that did not.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed partial class HtmlReportTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dino-load-html-");

    private static LoadReport Report() => Reports.Report(
        new ScenarioRecord("small-files", "dino", ScenarioStatus.Measured, null, "ops/s", 1273, 20, 25_000, 0,
            [Reports.Step("create 4 KiB", 1273, 25_000), Reports.Step("read", 1273, 17_000), Reports.Step("delete", 1273, 6_000)], []),
        new ScenarioRecord("metadata-mix", "dino", ScenarioStatus.Errors, null, "ops/s", null, 20, 4_000, 0,
            [Reports.Step("mkdir", 200, 900), Reports.Step("rename", 200, 800, failed: 3), Reports.Step("setxattr", 200, 700)], []),
        new ScenarioRecord("failover", "dino", ScenarioStatus.Measured, null, "ops/s", 400, 20, 8_000, 0,
            [Reports.Step("commit 4 KiB file", 400, 3_000, failed: 40)],
            ["killed lease holder node1 (kill -9) at 6.700 s", "error window: 1.250 s (40 failed commits, from 6.710 s to 7.960 s)"]),
        ScenarioRecords.NotRun("propagation", "dino", ScenarioStatus.Needs, "needs the shared tree: a file created on node1 did not appear on node2 within 5 s"));

    [Fact]
    public async Task Chromium_renders_every_chart_and_shows_every_scenario_and_step()
    {
        var chromium = Chromium();
        var report = Report();
        var html = LoadReportWriter.Save(report, _temp.FullName).Single(p => p.EndsWith(".html", StringComparison.Ordinal));
        var text = await File.ReadAllTextAsync(html, TestContext.Current.CancellationToken);
        // Self-contained: nothing to fetch (the only URL is the SVG namespace, which is a name, not a fetch).
        Assert.DoesNotMatch(@"\s(src|href)\s*=", text);
        Assert.DoesNotContain("https://", text, StringComparison.Ordinal);

        var profile = Path.Combine(_temp.FullName, "profile");
        var outcome = await ExternalProcess.RunAsync(chromium,
            ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", $"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", new Uri(html).AbsoluteUri],
            TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken);
        Assert.True(outcome.Succeeded, $"chromium exit {outcome.ExitCode}: {outcome.StandardError}");
        var dom = outcome.StandardOutput;

        var ran = report.Scenarios.Count(s => s.Ran);
        Assert.Equal((2 * ran).ToString(System.Globalization.CultureInfo.InvariantCulture), Attribute(dom, "data-charts"));
        Assert.Equal((2 * ran).ToString(System.Globalization.CultureInfo.InvariantCulture), Attribute(dom, "data-charts-drawn"));
        foreach (var scenario in report.Scenarios)
        {
            var section = Section(dom, scenario.Scenario);
            Assert.Contains(scenario.Status.ToString().ToLowerInvariant(), section, StringComparison.Ordinal);
            if (scenario.Note is not null) Assert.Contains(scenario.Note, section, StringComparison.Ordinal);
            foreach (var finding in scenario.Findings) Assert.Contains(finding, section, StringComparison.Ordinal);
            foreach (var step in scenario.Steps)
            {
                var name = System.Net.WebUtility.HtmlEncode(step.Step);
                // In both charts' legends and series, and in the steps table.
                Assert.Equal(2, Regex.Count(section, $"<g class=\"series\" data-step=\"{Regex.Escape(name)}\""));
                Assert.Contains($"<td>{name}</td>", dom, StringComparison.Ordinal);
            }
        }
    }

    private static string Attribute(string dom, string name) =>
        Regex.Match(dom, $"<body[^>]*\\s{name}=\"(\\d+)\"") is { Success: true } m ? m.Groups[1].Value : $"no {name} on <body>";

    private static string Section(string dom, string scenario)
    {
        var match = Regex.Match(dom, $"<section class=\"scenario\" data-scenario=\"{Regex.Escape(scenario)}\".*?</section>", RegexOptions.Singleline);
        Assert.True(match.Success, $"no section for {scenario}");
        return match.Value;
    }

    private static string Chromium()
    {
        if (ExternalProcess.IsOnPath("chromium")) return "chromium";
        const string reason = "chromium is not installed (run scripts/install-deps.sh)";
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(reason);
        Assert.Skip(reason);
        return "";
    }

    public void Dispose() => _temp.Delete(recursive: true);
}
