using System.Diagnostics;

namespace DinoMesh.Fuse.Tests.Support;

/// <summary>Runs a real program against the mount with a deadline; kills it (and its children) on timeout.</summary>
internal static class ProcessRunner
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static async Task<Result> RunAsync(string program, params string[] arguments) =>
        await RunAsync(program, arguments, DefaultTimeout);

    public static async Task<Result> RunAsync(string program, string[] arguments, TimeSpan timeout)
    {
        using var process = Start(program, arguments);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {timeout.TotalSeconds} s");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    public static async Task<Result> RunCheckedAsync(string program, params string[] arguments)
    {
        var result = await RunAsync(program, arguments);
        Assert.True(result.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited {result.ExitCode}: {result.StdErr}");
        return result;
    }

    public static Process Start(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        return Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
    }
}
