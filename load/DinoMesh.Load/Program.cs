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
// Signal handling is ours (above): System.CommandLine's would end the process two seconds after Ctrl+C.
return await command.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, stop.Token);
