using System.Diagnostics;

namespace DinoMesh.TestSupport;

/// <summary>One line a daemon printed, with the moment the test received it (for measuring detection times).</summary>
public sealed record LogLine(DateTime ReceivedUtc, bool IsError, string Text);

/// <summary>
/// A long-running child (dino-node, bindfs) whose stdout and stderr are kept in memory with arrival times and appended
/// to a log file (stderr lines prefixed "E "), stopped with real signals: SIGTERM, then SIGKILL after a grace period.
/// </summary>
public sealed class DaemonProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly List<LogLine> _lines = [];
    private readonly Lock _gate = new();

    private DaemonProcess(Process process, StreamWriter log)
    {
        _process = process;
        _log = log;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Every line so far, in arrival order.</summary>
    public IReadOnlyList<LogLine> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    public string Stdout => string.Join('\n', Lines.Where(l => !l.IsError).Select(l => l.Text));

    public string Stderr => string.Join('\n', Lines.Where(l => l.IsError).Select(l => l.Text));

    /// <summary>
    /// Starts the program, appending its output to <paramref name="logPath"/>. <paramref name="env"/> sets variables;
    /// a null value removes one (so an inherited DINOMESH_TOKEN cannot leak into a no-credential test).
    /// </summary>
    public static DaemonProcess Start(string file, IEnumerable<string> args, string logPath, IReadOnlyDictionary<string, string?>? env = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["LC_ALL"] = "C";
        psi.Environment.Remove("DINOMESH_TOKEN");
        foreach (var (k, v) in env ?? new Dictionary<string, string?>())
        {
            if (v is null)
            {
                psi.Environment.Remove(k);
            }
            else
            {
                psi.Environment[k] = v;
            }
        }
        var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        log.WriteLine($"=== {DateTime.UtcNow:O} start: {file} {string.Join(' ', psi.ArgumentList)}");
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var daemon = new DaemonProcess(process, log);
        process.OutputDataReceived += (_, e) => daemon.Append(e.Data, isError: false);
        process.ErrorDataReceived += (_, e) => daemon.Append(e.Data, isError: true);
        if (!process.Start())
        {
            throw new InvalidOperationException($"cannot start {file}");
        }
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return daemon;
    }

    private void Append(string? line, bool isError)
    {
        if (line is null)
        {
            return;
        }
        lock (_gate)
        {
            _lines.Add(new LogLine(DateTime.UtcNow, isError, line));
            try
            {
                _log.WriteLine(isError ? "E " + line : "  " + line);
            }
            catch (ObjectDisposedException)
            {
                // Output that arrives after the test let go of the log is dropped on purpose.
            }
        }
    }

    /// <summary>The first line (from <paramref name="from"/> on) that matches, or null.</summary>
    public LogLine? FindLine(Func<string, bool> match, DateTime? from = null) =>
        Lines.FirstOrDefault(l => l.ReceivedUtc >= (from ?? DateTime.MinValue) && match(l.Text));

    /// <summary>Polls the output for a matching line until the deadline or the process exits.</summary>
    public LogLine? WaitForLine(Func<string, bool> match, TimeSpan timeout, DateTime? from = null)
    {
        LogLine? found = null;
        Poll.Until(() => (found = FindLine(match, from)) is not null || HasExited, timeout, TimeSpan.FromMilliseconds(50));
        return found ?? FindLine(match, from);
    }

    /// <summary>Waits for exit and returns the exit code, or null when it is still running at the deadline.</summary>
    public int? WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            return null;
        }
        // Let the output pipes drain, bounded: a child of the daemon (fusermount3, a helper) may hold them open.
        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            _process.WaitForExitAsync(drain.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            Note("output pipes still open 5 s after exit (held by a child process?)");
        }
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, up to <paramref name="grace"/> for a clean exit, then SIGKILL. Returns the exit code if it exited cleanly.</summary>
    public int? Terminate(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return WaitForExit(TimeSpan.Zero);
        }
        Signal.Send(_process.Id, Signal.SIGTERM);
        var code = WaitForExit(grace);
        if (code is null)
        {
            Note($"did not exit within {grace.TotalSeconds:F0} s of SIGTERM; sending SIGKILL");
            Kill9();
        }
        return code;
    }

    /// <summary>SIGKILL and wait (bounded) until the kernel has reaped it.</summary>
    public void Kill9()
    {
        if (!_process.HasExited)
        {
            Signal.Send(_process.Id, Signal.SIGKILL);
        }
        WaitForExit(TimeSpan.FromSeconds(15));
    }

    public void Note(string text) => Append($"=== {DateTime.UtcNow:O} {text}", isError: false);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill9();
        }
        lock (_gate)
        {
            _log.Dispose();
        }
        _process.Dispose();
    }
}
