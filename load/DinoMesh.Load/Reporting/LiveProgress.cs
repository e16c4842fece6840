using System.Globalization;
using DinoMesh.Load.Runner;
using Spectre.Console;

namespace DinoMesh.Load.Reporting;

/// <summary>
/// Shows a running load phase. On an interactive terminal: a Spectre.Console live table (per step: calls ok, errors,
/// calls/s and p99 of the last complete second) redrawn four times a second. Otherwise (output to a file or a pipe):
/// one plain line every few seconds. Other messages go through <see cref="Log"/> so they never tear the live table.
/// </summary>
public sealed class LiveProgress : IScenarioObserver, IDisposable
{
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(5);
    private readonly TextWriter _plain;
    private readonly bool _interactive;
    private readonly Lock _lock = new();
    private readonly List<string> _events = [];
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private CancellationTokenSource? _stop;
    private Task? _display;

    public LiveProgress(TextWriter plain, bool allowInteractive)
    {
        _plain = plain;
        _interactive = allowInteractive && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
    }

    /// <summary>Prints a message now, or (while the live table is up) shows it under the table and prints it when the phase ends.</summary>
    public void Log(string message)
    {
        message = $"[{_clock.Elapsed.TotalSeconds,6:0.0} s] {message}";
        lock (_lock)
        {
            if (_display is not null)
            {
                _events.Add(message);
                return;
            }
        }
        _plain.WriteLine(message);
    }

    public void PhaseStarted(RunningPhase phase)
    {
        var stop = new CancellationTokenSource();
        lock (_lock)
        {
            _stop = stop;
            _events.Clear();
            if (!_interactive) _plain.WriteLine($"  {phase.Scenario} {(phase.IsWarmUp ? "warm-up" : "measuring")} started: {phase.Load}");
            _display = _interactive ? Task.Run(() => LiveAsync(phase, stop.Token), CancellationToken.None) : Task.Run(() => PlainAsync(phase, stop.Token), CancellationToken.None);
        }
    }

    public void PhaseEnded(RunningPhase phase)
    {
        Task? display;
        CancellationTokenSource? stop;
        List<string> events;
        lock (_lock)
        {
            display = _display;
            stop = _stop;
            _display = null;
            _stop = null;
            events = [.. _events];
        }
        stop?.Cancel();
        try
        {
            display?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // A failed redraw must not fail the run.
        }
        stop?.Dispose();
        if (_interactive) foreach (var line in events) _plain.WriteLine(line);
        if (!phase.IsWarmUp) _plain.WriteLine(Summary(phase));
    }

    private async Task LiveAsync(RunningPhase phase, CancellationToken stop)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in new[] { "step", "ok", "errors", "calls/s", "p99 µs" }) table.AddColumn(new TableColumn(column).RightAligned());
        table.Columns[0].LeftAligned();
        await AnsiConsole.Live(table).AutoClear(true).StartAsync(async context =>
        {
            while (true)
            {
                Fill(table, phase);
                context.Refresh();
                try
                {
                    await Task.Delay(250, stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
    }

    private void Fill(Table table, RunningPhase phase)
    {
        table.Rows.Clear();
        var now = phase.Clock.ElapsedNanoseconds;
        foreach (var step in phase.Steps)
        {
            var (ok, failed) = step.Totals;
            var last = step.LastComplete(now);
            table.AddRow(
                Markup.Escape(step.Name),
                ok.ToString("N0", CultureInfo.InvariantCulture),
                failed == 0 ? "0" : $"[red]{failed.ToString("N0", CultureInfo.InvariantCulture)}[/]",
                last is null ? "-" : Format.Number(last.OpsPerSecond),
                last is null || last.Ok + last.Failed == 0 ? "-" : Format.Number(last.P99Microseconds));
        }
        var elapsed = phase.Clock.Elapsed.TotalSeconds;
        var total = phase.Load.MaxDuration.TotalSeconds;
        var width = 30;
        var filled = (int)Math.Clamp(elapsed / total * width, 0, width);
        table.Title = new TableTitle(Markup.Escape(
            $"{phase.Scenario} {(phase.IsWarmUp ? "warm-up" : "measuring")} [{new string('#', filled)}{new string('.', width - filled)}] {elapsed:0.0}/{total:0} s"));
        lock (_lock)
        {
            table.Caption = _events.Count == 0 ? null : new TableTitle(Markup.Escape(string.Join(" | ", _events.TakeLast(3))));
        }
    }

    private async Task PlainAsync(RunningPhase phase, CancellationToken stop)
    {
        while (true)
        {
            try
            {
                await Task.Delay(PlainInterval, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var steps = string.Join(", ", phase.Steps.Select(s =>
            {
                var (ok, failed) = s.Totals;
                return $"{s.Name} {ok.ToString("N0", CultureInfo.InvariantCulture)} ok{(failed > 0 ? $" {failed.ToString("N0", CultureInfo.InvariantCulture)} errors" : "")}";
            }));
            _plain.WriteLine($"  {phase.Scenario} {(phase.IsWarmUp ? "warm-up" : "measuring")} {phase.Clock.Elapsed.TotalSeconds:0}/{phase.Load.MaxDuration.TotalSeconds:0} s: {steps}");
        }
    }

    private static string Summary(RunningPhase phase)
    {
        var seconds = Math.Max(phase.Clock.Elapsed.TotalSeconds, 1e-9);
        var steps = string.Join(", ", phase.Steps.Select(s =>
        {
            var (ok, failed) = s.Totals;
            return $"{s.Name} {Format.Number((ok + failed) / seconds)}/s{(failed > 0 ? $" ({failed.ToString("N0", CultureInfo.InvariantCulture)} errors)" : "")}";
        }));
        return $"{phase.Scenario}: measured {seconds:0.0} s: {steps}";
    }

    public void Dispose()
    {
        _stop?.Cancel();
        _stop?.Dispose();
    }
}
