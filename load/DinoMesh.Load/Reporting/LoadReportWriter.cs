using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DinoMesh.Load.Reporting;

/// <summary>
/// Renders a <see cref="LoadReport"/>: the console text (a table per step with p50/p90/p99/max), Markdown with the
/// charts as .svg files beside it, a self-contained HTML page with the charts inline, and JSON for <c>--compare</c>.
/// </summary>
public static class LoadReportWriter
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>
    /// Writes load-STAMP.{txt,md,html,json}, the charts under load-STAMP-charts/, and copies named latest-load.*;
    /// returns the stamped paths (txt, md, html, json).
    /// </summary>
    public static IReadOnlyList<string> Save(LoadReport report, string directory, LoadReport? before = null)
    {
        Directory.CreateDirectory(directory);
        var stem = "load-" + report.Started.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var chartDirectory = stem + "-charts";
        Directory.CreateDirectory(Path.Combine(directory, chartDirectory));
        foreach (var run in report.Scenarios.Where(r => r.Ran))
        {
            File.WriteAllText(Path.Combine(directory, chartDirectory, ChartFile(run, "throughput")), ReportCharts.Throughput(run));
            File.WriteAllText(Path.Combine(directory, chartDirectory, ChartFile(run, "latency")), ReportCharts.Latency(run));
        }
        var outputs = new (string Extension, string Content)[]
        {
            ("txt", ToText(report, before)),
            ("md", ToMarkdown(report, chartDirectory, before)),
            ("html", ToHtml(report, before)),
            ("json", JsonSerializer.Serialize(report, Json)),
        };
        var paths = new List<string>();
        foreach (var (extension, content) in outputs)
        {
            var path = Path.Combine(directory, $"{stem}.{extension}");
            File.WriteAllText(path, content);
            File.WriteAllText(Path.Combine(directory, $"latest-load.{extension}"), content);
            paths.Add(path);
        }
        return paths;
    }

    public static string ChartFile(ScenarioRecord run, string kind) => $"{run.Scenario}-{run.Target}-{kind}.svg";

    /// <summary>One row per step of every scenario that ran, and one line for each that did not.</summary>
    public static TextTable StepTable(LoadReport report)
    {
        var table = new TextTable("scenario", "target", "step", "count", "ok", "errors", "ops/s", "MB/s", "p50 us", "p90 us", "p99 us", "max us")
        {
            FirstNumericColumn = 3,
        };
        foreach (var run in report.Scenarios)
        {
            if (!run.Ran)
            {
                table.Add(run.Scenario, run.Target, $"({run.Status.ToString().ToLowerInvariant()})", "-", "-", "-", "-", "-", "-", "-", "-", "-");
                continue;
            }
            foreach (var s in run.Steps)
            {
                table.Add(run.Scenario, run.Target, s.Step, Format.Integer(s.Count), Format.Integer(s.Ok), Format.Integer(s.Failed),
                    Format.Number(s.OpsPerSecond), s.MegabytesPerSecond > 0 ? Format.Number(s.MegabytesPerSecond) : "-",
                    Format.Number(s.P50Microseconds), Format.Number(s.P90Microseconds), Format.Number(s.P99Microseconds), Format.Number(s.MaxMicroseconds));
            }
        }
        return table;
    }

    /// <summary>Headline per scenario and target, with ratios to the native and bindfs references when they ran.</summary>
    public static TextTable SummaryTable(LoadReport report)
    {
        var targets = report.Scenarios.Select(s => s.Target).Distinct().ToList();
        var product = targets.Where(t => t is not ReportTables.Native and not ReportTables.Bindfs).ToList();
        var references = targets.Where(t => t is ReportTables.Native or ReportTables.Bindfs).ToList();
        var headers = new List<string> { "scenario", "status", "unit" };
        headers.AddRange(targets);
        headers.AddRange(product.SelectMany(p => references.Select(r => $"{p} / {r}")));
        var table = new TextTable([.. headers]) { FirstNumericColumn = 3 };
        foreach (var group in report.Scenarios.GroupBy(s => s.Scenario))
        {
            var byTarget = group.ToDictionary(s => s.Target);
            var status = string.Join(", ", group.Select(s => s.Status).Distinct().Select(s => s.ToString().ToLowerInvariant()));
            var row = new List<string> { group.Key, status, group.First().Unit };
            row.AddRange(targets.Select(t => Format.Number(byTarget.GetValueOrDefault(t)?.Headline)));
            row.AddRange(product.SelectMany(p => references.Select(r => Format.Ratio(byTarget.GetValueOrDefault(p)?.Headline, byTarget.GetValueOrDefault(r)?.Headline))));
            table.Add([.. row]);
        }
        return table;
    }

    public static string ToText(LoadReport report, LoadReport? before = null)
    {
        var text = new StringBuilder();
        text.AppendLine($"DinoMesh load run, {report.Started:yyyy-MM-dd HH:mm:ss zzz}, {report.DurationSeconds:0} s");
        text.AppendLine($"command: {report.Command}");
        text.AppendLine($"load: {report.Load}; warm-up {report.WarmUpSeconds:0.#} s (excluded)");
        foreach (var t in report.Targets) text.AppendLine($"target {t.Name}: {t.Description}; sharing: {t.Sharing} ({t.SharingDetail}); lease: {t.LeaseDetail}");
        text.AppendLine();
        text.AppendLine("Headline per scenario:");
        text.AppendLine(SummaryTable(report).ToText());
        text.AppendLine("Steps (measured load only):");
        text.AppendLine(StepTable(report).ToText());
        AppendNotes(text, report, "  ");
        if (before is not null)
        {
            text.AppendLine($"Compared with the run of {before.Started:yyyy-MM-dd HH:mm:ss} ({before.Command}):");
            text.AppendLine(ReportComparison.Table(report, before).ToText());
        }
        return text.ToString();
    }

    public static string ToMarkdown(LoadReport report, string chartDirectory, LoadReport? before = null)
    {
        var m = report.Machine;
        var text = new StringBuilder();
        text.AppendLine($"# DinoMesh load run, {report.Started:yyyy-MM-dd HH:mm zzz}");
        text.AppendLine();
        text.AppendLine($"- command: `{report.Command}`");
        text.AppendLine($"- machine: {m.CpuModel}, {m.Cores} cores, {m.MemoryGiB} GiB RAM, kernel {m.Kernel}, {m.OperatingSystem}, {m.Runtime}");
        text.AppendLine($"- load: {report.Load}; warm-up {report.WarmUpSeconds:0.#} s, excluded from every number");
        text.AppendLine($"- duration {report.DurationSeconds:0} s; load average (1/5/15 min) {report.LoadAverageAtStart} at start, {report.LoadAverageAtEnd} at end");
        foreach (var t in report.Targets)
        {
            text.AppendLine($"- target `{t.Name}`: {t.Description}");
            text.AppendLine($"  - sharing: **{t.Sharing}**: {t.SharingDetail}; lease: {t.LeaseDetail}");
        }
        text.AppendLine();
        text.AppendLine("## Headline per scenario");
        text.AppendLine();
        text.AppendLine(SummaryTable(report).ToMarkdown());
        text.AppendLine("## Steps");
        text.AppendLine();
        text.AppendLine("Throughput is a step's calls over the scenario's measured wall time; latencies from a log-linear histogram (at most ~3% high).");
        text.AppendLine();
        text.AppendLine(StepTable(report).ToMarkdown());
        foreach (var run in report.Scenarios)
        {
            text.AppendLine($"### {run.Scenario} on {run.Target}: {run.Status.ToString().ToLowerInvariant()}");
            text.AppendLine();
            if (run.Note is not null) text.AppendLine($"{run.Note}").AppendLine();
            foreach (var finding in run.Findings) text.AppendLine($"- {finding}");
            if (run.Findings.Count > 0) text.AppendLine();
            if (!run.Ran) continue;
            text.AppendLine($"![{run.Scenario} throughput]({chartDirectory}/{ChartFile(run, "throughput")})");
            text.AppendLine($"![{run.Scenario} p99 latency]({chartDirectory}/{ChartFile(run, "latency")})");
            text.AppendLine();
        }
        if (before is not null)
        {
            text.AppendLine($"## Compared with the run of {before.Started:yyyy-MM-dd HH:mm}");
            text.AppendLine();
            text.AppendLine($"Earlier command: `{before.Command}`").AppendLine();
            text.AppendLine(ReportComparison.Table(report, before).ToMarkdown());
        }
        var notes = Notes(report);
        if (notes.Count > 0)
        {
            text.AppendLine("## Problems and warnings");
            text.AppendLine();
            foreach (var line in notes) text.AppendLine($"- {line}");
        }
        return text.ToString();
    }

    public static string ToHtml(LoadReport report, LoadReport? before = null)
    {
        var m = report.Machine;
        var h = new StringBuilder();
        h.AppendLine("<!DOCTYPE html>");
        h.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        h.AppendLine($"<title>DinoMesh load run {E(report.Started.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture))}</title>");
        // Everything inline: the page must open from a file on a machine with no network.
        h.AppendLine("""
            <style>
            body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}
            table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
            th,td{border:1px solid #ccc;padding:3px 7px}td.n{text-align:right;font-variant-numeric:tabular-nums}
            th{background:#f3f3f3}.status-measured{color:#1a7f37}.status-errors,.status-failed{color:#cf222e}.status-needs{color:#9a6700}
            section.scenario{border-top:1px solid #ddd;margin-top:18px}.charts{display:flex;flex-wrap:wrap;gap:8px}
            code{background:#f3f3f3;padding:1px 4px}
            </style></head><body>
            """);
        h.AppendLine($"<h1>DinoMesh load run, {E(report.Started.ToString("yyyy-MM-dd HH:mm zzz", CultureInfo.InvariantCulture))}</h1>");
        h.AppendLine("<ul>");
        h.AppendLine($"<li>command: <code>{E(report.Command)}</code></li>");
        h.AppendLine($"<li>machine: {E($"{m.CpuModel}, {m.Cores} cores, {m.MemoryGiB} GiB RAM, kernel {m.Kernel}, {m.OperatingSystem}, {m.Runtime}")}</li>");
        h.AppendLine($"<li>load: {E(report.Load)}; warm-up {report.WarmUpSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s, excluded</li>");
        h.AppendLine($"<li>duration {report.DurationSeconds.ToString("0", CultureInfo.InvariantCulture)} s; load average {E(report.LoadAverageAtStart)} at start, {E(report.LoadAverageAtEnd)} at end</li>");
        foreach (var t in report.Targets)
        {
            h.AppendLine($"<li>target <b>{E(t.Name)}</b>: {E(t.Description)}<br>sharing: <b>{E(t.Sharing)}</b>: {E(t.SharingDetail)}; lease: {E(t.LeaseDetail)}</li>");
        }
        h.AppendLine("</ul>");
        h.AppendLine("<h2>Headline per scenario</h2>");
        AppendTable(h, SummaryTable(report));
        h.AppendLine("<h2>Steps</h2>");
        AppendTable(h, StepTable(report));
        foreach (var run in report.Scenarios)
        {
            var status = run.Status.ToString().ToLowerInvariant();
            h.AppendLine($"<section class=\"scenario\" data-scenario=\"{E(run.Scenario)}\" data-target=\"{E(run.Target)}\">");
            h.AppendLine($"<h3>{E(run.Scenario)} on {E(run.Target)}: <span class=\"status-{status}\">{status}</span></h3>");
            if (run.Note is not null) h.AppendLine($"<p>{E(run.Note)}</p>");
            if (run.Findings.Count > 0) h.AppendLine("<ul>" + string.Concat(run.Findings.Select(f => $"<li>{E(f)}</li>")) + "</ul>");
            if (run.Ran)
            {
                h.AppendLine("<div class=\"charts\">");
                h.AppendLine(ReportCharts.Throughput(run));
                h.AppendLine(ReportCharts.Latency(run));
                h.AppendLine("</div>");
            }
            h.AppendLine("</section>");
        }
        if (before is not null)
        {
            h.AppendLine($"<h2>Compared with the run of {E(before.Started.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture))}</h2>");
            h.AppendLine($"<p>earlier command: <code>{E(before.Command)}</code></p>");
            AppendTable(h, ReportComparison.Table(report, before));
        }
        var notes = Notes(report);
        if (notes.Count > 0)
        {
            h.AppendLine("<h2>Problems and warnings</h2><ul>" + string.Concat(notes.Select(n => $"<li>{E(n)}</li>")) + "</ul>");
        }
        // Marks the page once the browser has laid out every chart (each drawn series has a box): what the headless check reads.
        h.AppendLine("""
            <script>
            window.addEventListener('load', function () {
              var charts = document.querySelectorAll('svg.chart'), drawn = 0;
              charts.forEach(function (svg) {
                var ok = svg.getBoundingClientRect().width > 0;
                svg.querySelectorAll('g.series').forEach(function (g) { if (g.childNodes.length && g.getBBox().width <= 0 && g.querySelector('polyline')) ok = false; });
                if (ok) drawn++;
              });
              document.body.setAttribute('data-charts', String(charts.length));
              document.body.setAttribute('data-charts-drawn', String(drawn));
            });
            </script>
            """);
        h.AppendLine("</body></html>");
        return h.ToString();
    }

    private static void AppendTable(StringBuilder h, TextTable table)
    {
        var (headers, rows, firstNumeric) = table.Cells();
        h.Append("<table><tr>");
        foreach (var header in headers) h.Append("<th>").Append(E(header)).Append("</th>");
        h.AppendLine("</tr>");
        foreach (var row in rows)
        {
            h.Append("<tr>");
            for (var i = 0; i < row.Length; i++) h.Append(i >= firstNumeric ? "<td class=\"n\">" : "<td>").Append(E(row[i])).Append("</td>");
            h.AppendLine("</tr>");
        }
        h.AppendLine("</table>");
    }

    private static void AppendNotes(StringBuilder text, LoadReport report, string indent)
    {
        foreach (var run in report.Scenarios.Where(r => r.Note is not null || r.Findings.Count > 0))
        {
            var status = run.Status.ToString().ToLowerInvariant();
            // A "needs" note already starts with the word.
            text.AppendLine($"{run.Scenario} on {run.Target}: {(run.Status == ScenarioStatus.Needs && run.Note is not null ? run.Note : status + (run.Note is null ? "" : ": " + run.Note))}");
            foreach (var finding in run.Findings) text.AppendLine($"{indent}{finding}");
        }
        var notes = Notes(report);
        if (notes.Count == 0) return;
        text.AppendLine("Problems and warnings:");
        foreach (var line in notes) text.AppendLine($"{indent}{line}");
    }

    /// <summary>Errors by message, target problems and warnings, one line each.</summary>
    public static IReadOnlyList<string> Notes(LoadReport report)
    {
        var lines = new List<string>();
        lines.AddRange(report.Targets.Where(t => t.Error is not null).Select(t => $"{t.Name}: {t.Error}"));
        foreach (var run in report.Scenarios)
        {
            foreach (var step in run.Steps)
            {
                lines.AddRange(step.Errors.Select(e => $"{run.Scenario} on {run.Target}, '{step.Step}': {e.Value.ToString(CultureInfo.InvariantCulture)} x {e.Key}"));
            }
            if (run.Dropped > 0) lines.Add($"{run.Scenario} on {run.Target}: {run.Dropped:N0} arrivals dropped (every slot busy): the rate was more than the target could take");
        }
        lines.AddRange(report.Warnings);
        return lines;
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
