using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Tests;

/// <summary>
/// dino-load run as a real process (<c>dotnet dino-load.dll ARGS</c> from this test's output directory), so tests can
/// send it real signals and kill it, as a user or the kernel would.
/// </summary>
internal sealed class RunnerProcess : IAsyncDisposable
{
    private readonly Daemon _daemon;

    private RunnerProcess(Daemon daemon) => _daemon = daemon;

    public int ProcessId => _daemon.ProcessId;

    public string Output => _daemon.Output.ToString();

    public int? ExitCode => _daemon.ExitCode;

    public static RunnerProcess Start(string logPath, params string[] args) =>
        new(Daemon.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "dino-load.dll"), .. args], logPath,
            new Dictionary<string, string?> { ["DINOMESH_TOKEN"] = null }));

    /// <summary>Waits until the output contains <paramref name="text"/>; fails with the output if the runner exits or the time passes.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (_daemon.HasExited) Assert.Fail($"dino-load exited with {_daemon.ExitCode} before printing '{text}':\n{Output}");
            if (DateTime.UtcNow > deadline) Assert.Fail($"dino-load did not print '{text}' within {timeout.TotalSeconds:0} s:\n{Output}");
            await Task.Delay(100, CancellationToken.None);
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        if (!await _daemon.WaitForExitAsync(timeout))
        {
            Assert.Fail($"dino-load did not exit within {timeout.TotalSeconds:0} s; its threads still there:\n{ThreadStates(ProcessId)}\nits output:\n{Output}");
        }
        return _daemon.ExitCode!.Value;
    }

    /// <summary>
    /// State and kernel wait channel of each thread still there: a killed process that lingers is usually one thread
    /// in a wait the kill cannot break, such as a FUSE request its file system has not answered yet.
    /// </summary>
    private static string ThreadStates(int pid)
    {
        try
        {
            return string.Join('\n', Directory.GetDirectories($"/proc/{pid}/task").Select(task =>
            {
                string Read(string name)
                {
                    try
                    {
                        return File.ReadAllText(Path.Combine(task, name)).Trim();
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        return "?";
                    }
                }
                var stat = Read("stat");
                var state = stat.LastIndexOf(')') is var close and > 0 && close + 2 < stat.Length ? stat[(close + 2)..(close + 3)] : "?";
                return $"  {Path.GetFileName(task)} state {state} wchan {Read("wchan")} {Read("syscall")}";
            }));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"  (none readable: {e.Message})";
        }
    }

    public void Signal(int signal) => Signals.Send(ProcessId, signal);

    public async ValueTask DisposeAsync() => await _daemon.DisposeAsync();
}
