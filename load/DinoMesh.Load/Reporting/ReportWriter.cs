using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DinoMesh.Load.Reporting;

/// <summary>Renders a <see cref="BenchReport"/> as console text and markdown, and saves both plus JSON.</summary>
public static class ReportWriter
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Writes bench-STAMP.{txt,md,json} and latest.{txt,md,json} to <paramref name="directory"/>; returns the stamped paths.</summary>
    public static IReadOnlyList<string> Save(BenchReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var stamp = report.Started.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var outputs = new (string Extension, string Content)[]
        {
            ("txt", ToText(report)),
            ("md", ToMarkdown(report)),
            ("json", JsonSerializer.Serialize(report, Json)),
        };
        var paths = new List<string>();
        foreach (var (extension, content) in outputs)
        {
            var path = Path.Combine(directory, $"bench-{stamp}.{extension}");
            File.WriteAllText(path, content);
            File.WriteAllText(Path.Combine(directory, $"latest.{extension}"), content);
            paths.Add(path);
        }
        return paths;
    }

    public static string ToText(BenchReport report)
    {
        var text = new StringBuilder();
        text.AppendLine($"DinoMesh file-system benchmark, {report.Started:yyyy-MM-dd HH:mm:ss zzz}, {report.DurationSeconds:0} s");
        text.AppendLine($"command: {report.Command}");
        text.AppendLine($"load average (1/5/15 min): {report.LoadAverageAtStart} at start, {report.LoadAverageAtEnd} at end");
        AppendWorkload(text, report, "");
        text.AppendLine();
        text.AppendLine($"Median of {report.Workload.Runs} run(s) (MB = 10^6 bytes):");
        text.AppendLine(ReportTables.Summary(report).ToText());
        text.AppendLine("Every run:");
        text.AppendLine(ReportTables.Runs(report).ToText());
        text.AppendLine("Steps (all runs merged):");
        text.AppendLine(ReportTables.Steps(report).ToText());
        if (report.Fio.Count > 0)
        {
            text.AppendLine("fio (4 KiB, psync, buffered):");
            text.AppendLine(ReportTables.Fio(report).ToText());
        }
        AppendProblems(text, report, "");
        return text.ToString();
    }

    public static string ToMarkdown(BenchReport report)
    {
        var m = report.Machine;
        var text = new StringBuilder();
        text.AppendLine($"# DinoMesh file-system benchmark, {report.Started:yyyy-MM-dd HH:mm zzz}");
        text.AppendLine();
        text.AppendLine($"- command: `{report.Command}`");
        text.AppendLine($"- machine: {m.CpuModel}, {m.Cores} cores, {m.MemoryGiB} GiB RAM, kernel {m.Kernel}, {m.OperatingSystem}, {m.Runtime}");
        text.AppendLine($"- work directory file system: {m.WorkDirFileSystem}");
        AppendWorkload(text, report, "- ");
        text.AppendLine($"- duration: {report.DurationSeconds:0} s; load average (1/5/15 min) {report.LoadAverageAtStart} at start, {report.LoadAverageAtEnd} at end ({m.Cores} cores)");
        text.AppendLine();
        text.AppendLine($"## Median of {report.Workload.Runs} run(s)");
        text.AppendLine();
        text.AppendLine("MB = 10^6 bytes. A run with any failed call, or one that hit its time limit, counts as n/a.");
        text.AppendLine();
        text.AppendLine(ReportTables.Summary(report).ToMarkdown());
        text.AppendLine("## Every run");
        text.AppendLine();
        text.AppendLine(ReportTables.Runs(report).ToMarkdown());
        text.AppendLine("## Steps (all runs merged)");
        text.AppendLine();
        text.AppendLine(ReportTables.Steps(report).ToMarkdown());
        if (report.Fio.Count > 0)
        {
            text.AppendLine("## fio (4 KiB random, psync, buffered)");
            text.AppendLine();
            text.AppendLine(ReportTables.Fio(report).ToMarkdown());
        }
        AppendProblems(text, report, "- ");
        return text.ToString();
    }

    private static void AppendWorkload(StringBuilder text, BenchReport report, string bullet)
    {
        var w = report.Workload;
        text.AppendLine($"{bullet}workload: sequential file {w.FileSizeBytes / (1 << 20)} MiB in {w.BlockSizeBytes / 1024} KiB calls; "
            + $"{w.SmallFiles} small files of {w.SmallFileSizeBytes} bytes; {w.Copies} cop{(w.Copies == 1 ? "y" : "ies")} for small files; {w.Runs} run(s)");
        foreach (var t in report.Targets) text.AppendLine($"{bullet}target {t.Name}: {t.Description}{(t.StopNote is null ? "" : $" [stop: {t.StopNote}]")}");
    }

    private static void AppendProblems(StringBuilder text, BenchReport report, string bullet)
    {
        var problems = ReportTables.Problems(report);
        if (problems.Count == 0) return;
        text.AppendLine(bullet.Length > 0 ? "## Problems and warnings\n" : "Problems and warnings:");
        foreach (var line in problems) text.AppendLine($"{(bullet.Length > 0 ? bullet : "  ")}{line}");
    }
}
