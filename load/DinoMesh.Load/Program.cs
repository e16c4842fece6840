using System.CommandLine;
using System.Runtime.InteropServices;
using DinoMesh.Load;
using DinoMesh.Load.Cli;
using DinoMesh.Load.Reporting;

// Ctrl+C and SIGTERM cancel the run instead of ending the process, so the targets are always unmounted and stopped.
using var stop = new CancellationTokenSource();
void Cancel(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);

// Without a subcommand: the single-node file-system benchmark (native, bindfs, dino side by side).
var command = new BenchCommand().Create(async (options, cancellationToken) =>
{
    var problems = BenchSuite.Preflight(options);
    if (problems.Count > 0)
    {
        foreach (var problem in problems) await Console.Error.WriteLineAsync($"error: {problem}");
        return 2;
    }
    var report = await new BenchSuite(options, Console.Out).RunAsync(cancellationToken);
    Console.WriteLine();
    Console.Write(ReportWriter.ToText(report));
    foreach (var path in ReportWriter.Save(report, options.OutputDirectory)) Console.WriteLine($"wrote {path}");
    var complete = report.Targets.All(t => t.Error is null)
        && report.Scenarios.All(s => s.Targets.All(t => t.Problems.Count == 0 && t.Median is not null));
    return complete && !stop.IsCancellationRequested ? 0 : 1;
});

// With one: cluster scenarios (dino-load small-files --nodes 3 --duration 20s).
LoadCommand.AddTo(command, async (options, cancellationToken) =>
{
    var problems = LoadSuite.Preflight(options);
    if (problems.Count > 0)
    {
        foreach (var problem in problems) await Console.Error.WriteLineAsync($"error: {problem}");
        return 2;
    }
    var before = options.Compare is { } compare ? ReportComparison.Load(compare) : null;
    using var live = new LiveProgress(Console.Out, options.Live);
    var report = await new LoadSuite(options, live).RunAsync(cancellationToken);
    Console.WriteLine();
    Console.Write(LoadReportWriter.ToText(report, before));
    foreach (var path in LoadReportWriter.Save(report, options.OutputDirectory, before)) Console.WriteLine($"wrote {path}");
    return LoadExitCode.Of(report, stop.IsCancellationRequested);
});

// Signal handling is ours (above): System.CommandLine's would end the process two seconds after Ctrl+C.
return await command.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, stop.Token);
