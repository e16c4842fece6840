using System.Diagnostics;

namespace DinoMesh.Load.Platform;

/// <summary>
/// A long-running child process (a FUSE daemon in the foreground). Its output is kept in a tail for error messages
/// and, when a log path is given, written to that file. Stopping is SIGTERM, a bounded wait, then SIGKILL.
/// </summary>
public sealed class Daemon : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter? _log;
    private readonly Lock _logLock = new();

    private Daemon(Process process, StreamWriter? log)
    {
        _process = process;
        _log = log;
    }

    public OutputTail Output { get; } = new();

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Completes when the process has exited.</summary>
    public Task Exited => _process.WaitForExitAsync(CancellationToken.None);

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    public static Daemon Start(string fileName, IEnumerable<string> arguments, string? logPath, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            // A null value removes an inherited variable (e.g. a DINOMESH_TOKEN that must not reach a founder).
            if (value is null) info.Environment.Remove(name);
            else info.Environment[name] = value;
        }
        var log = logPath is null ? null : new StreamWriter(logPath, append: false) { AutoFlush = true };
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var daemon = new Daemon(process, log);
        process.OutputDataReceived += (_, e) => daemon.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => daemon.OnLine(e.Data);
        try
        {
            process.Start();
        }
        catch
        {
            log?.Dispose();
            process.Dispose();
            throw;
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return daemon;
    }

    /// <summary>Waits for a normal exit up to <paramref name="timeout"/>; true when it exited.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(timeout, CancellationToken.None);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL, no goodbye (the fail-over scenario's crash); waits up to 10 s for the process to be gone.</summary>
    public async Task<bool> KillAsync()
    {
        if (_process.HasExited) return true;
        Signals.Send(_process.Id, Signals.SigKill);
        return await WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>SIGTERM, wait up to <paramref name="termTimeout"/>, then SIGKILL. Returns how it ended.</summary>
    public async Task<string> StopAsync(TimeSpan termTimeout)
    {
        if (_process.HasExited) return $"already exited with {_process.ExitCode}";
        Signals.Send(_process.Id, Signals.SigTerm);
        if (await WaitForExitAsync(termTimeout)) return $"exited with {_process.ExitCode} after SIGTERM";
        Signals.Send(_process.Id, Signals.SigKill);
        var killed = await WaitForExitAsync(TimeSpan.FromSeconds(10));
        return killed ? $"killed (SIGKILL) after {termTimeout.TotalSeconds:0} s" : "did not exit even after SIGKILL";
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) await StopAsync(TimeSpan.FromSeconds(5));
        _process.Dispose();
        lock (_logLock) _log?.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        Output.Append(line);
        lock (_logLock) _log?.WriteLine(line);
    }
}
