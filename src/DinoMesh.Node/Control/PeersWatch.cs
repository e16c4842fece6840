using System.Text.Json;
using DinoMesh.Node.Cli;
using Spectre.Console;

namespace DinoMesh.Node.Control;

/// <summary>`dino-node peers --watch`: the peers table redrawn in place every second until Ctrl+C.</summary>
public static class PeersWatch
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public static async Task<int> RunAsync(string dataDirectory, CancellationToken outer)
    {
        // Ctrl+C (SIGINT) ends the watch normally: exit 0, the last table left on the screen.
        using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(outer);
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            interrupted.Cancel();
        });
        var cancellationToken = interrupted.Token;
        var console = AnsiConsole.Console;
        if (!console.Profile.Capabilities.Interactive) return await PrintEverySecondAsync(dataDirectory, cancellationToken);
        var table = NewTable();
        var failure = (string?)null;
        try
        {
            await console.Live(table).AutoClear(false).StartAsync(async live =>
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    try
                    {
                        var answer = await ControlClient.CallAsync(dataDirectory, "peers", TimeSpan.FromSeconds(5), cancellationToken);
                        Fill(table, answer.Deserialize(ControlJson.Default.ListPeerRow) ?? [], null);
                    }
                    catch (ControlCommandException e)
                    {
                        // The node went away: say so in the table and keep watching, so a restart shows up by itself.
                        Fill(table, [], e.Message);
                        failure = e.Message;
                    }
                    live.Refresh();
                    await Task.Delay(Interval, cancellationToken);
                }
            });
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl+C ends the watch; the last table stays on screen.
        }
        return failure is null || cancellationToken.IsCancellationRequested ? ExitCodes.Ok : ExitCodes.RuntimeFailure;
    }

    /// <summary>Output that is not a terminal (a pipe, a file) cannot be redrawn: one plain table a second, appended.</summary>
    private static async Task<int> PrintEverySecondAsync(string dataDirectory, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                try
                {
                    var answer = await ControlClient.CallAsync(dataDirectory, "peers", TimeSpan.FromSeconds(5), cancellationToken);
                    var rows = answer.Deserialize(ControlJson.Default.ListPeerRow) ?? [];
                    Console.Out.WriteLine($"{DateTime.Now:HH:mm:ss} {rows.Count} members, {rows.Count(r => r.State == "alive")} alive");
                    Console.Out.WriteLine(ControlOutput.Render("peers", answer, asJson: false));
                }
                catch (ControlCommandException e)
                {
                    Console.Out.WriteLine($"{DateTime.Now:HH:mm:ss} {e.Message}; retrying every second");
                }
                Console.Out.WriteLine();
                Console.Out.Flush();
                await Task.Delay(Interval, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Ok;
        }
    }

    private static Table NewTable()
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var column in ControlOutput.PeerColumns) table.AddColumn(new TableColumn(column));
        return table;
    }

    private static void Fill(Table table, List<PeerRow> rows, string? error)
    {
        table.Rows.Clear();
        var now = DateTimeOffset.UtcNow;
        foreach (var row in rows)
        {
            var cells = ControlOutput.PeerCells(row, now).Select(Markup.Escape).ToArray();
            cells[2] = row.State switch
            {
                "alive" => $"[green]{cells[2]}[/]",
                "suspect" => $"[yellow]{cells[2]}[/]",
                "dead" => $"[red]{cells[2]}[/]",
                _ => $"[grey]{cells[2]}[/]",
            };
            table.AddRow(cells);
        }
        table.Caption(error is null
            ? new TableTitle($"{rows.Count} members, {rows.Count(r => r.State == "alive")} alive · {DateTime.Now:HH:mm:ss} · Ctrl+C to stop")
            : new TableTitle($"[red]{Markup.Escape(error)}[/] · retrying every second · Ctrl+C to stop"));
    }
}
