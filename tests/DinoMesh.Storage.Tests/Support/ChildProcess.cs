using System.Collections.Concurrent;
using System.Diagnostics;

namespace DinoMesh.Storage.Tests.Support;

/// <summary>The crash helper (DinoMesh.Storage.CrashHelper) as a child process; killed on Dispose if still running.</summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = new();

    private ChildProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) _lines.CompleteAdding();
            else _lines.Add(e.Data);
        };
        _process.BeginOutputReadLine();
    }

    public int Pid => _process.Id;

    public static ChildProcess StartHelper(params string[] arguments)
    {
        string helper = Path.Combine(AppContext.BaseDirectory, "DinoMesh.Storage.CrashHelper.dll");
        Assert.True(File.Exists(helper), $"crash helper not built next to the tests: {helper}");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            RedirectStandardError = false,
        };
        start.ArgumentList.Add(helper);
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        return new ChildProcess(Process.Start(start) ?? throw new InvalidOperationException("cannot start the crash helper"));
    }

    /// <summary>The first line (from now on) that satisfies the predicate; fails the test after the timeout.</summary>
    public string WaitForLine(Func<string, bool> predicate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"the crash helper printed no matching line within {timeout}");
            try
            {
                if (_lines.TryTake(out var line, left) && predicate(line)) return line;
            }
            catch (InvalidOperationException)
            {
                throw new InvalidOperationException($"the crash helper exited (code {ExitCodeOrNull()}) before printing a matching line");
            }
            if (_lines.IsCompleted) throw new InvalidOperationException($"the crash helper exited (code {ExitCodeOrNull()}) before printing a matching line");
        }
    }

    /// <summary>SIGKILL: no finally block, no Dispose, no flush runs in the child.</summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: false);
        Assert.True(_process.WaitForExit(TimeSpan.FromSeconds(10)), "the crash helper did not die within 10 s of SIGKILL");
    }

    public void CloseInput() => _process.StandardInput.Close();

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    private string ExitCodeOrNull() => _process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none";

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
