using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace DinoMesh.Load.Membership;

/// <summary>
/// One dino-node process of the benchmark: its own address, mount point and data directory under the run's temp dir.
/// Its log lines (stderr and stdout) are kept with the time they arrived, measured on the run's clock; CPU time and
/// RSS are read from /proc.
/// </summary>
internal sealed partial class BenchNode : IDisposable
{
    private readonly List<(TimeSpan At, string Line)> _lines = [];
    private readonly Stopwatch _clock;
    private Process? _process;

    public BenchNode(int index, string root, string host, int port, Stopwatch clock)
    {
        Index = index;
        Host = host;
        Port = port;
        _clock = clock;
        MountPoint = Path.Combine(root, $"n{index}", "mnt");
        DataDir = Path.Combine(root, $"n{index}", "data");
        Directory.CreateDirectory(MountPoint);
    }

    public int Index { get; }

    public string Host { get; }

    public int Port { get; }

    public string Endpoint => $"{Host}:{Port}";

    public string MountPoint { get; }

    public string DataDir { get; }

    public int? Pid => _process?.Id;

    public bool Running => _process is { HasExited: false };

    /// <summary>When Start returned, on the run's clock.</summary>
    public TimeSpan StartedAt { get; private set; }

    public void Start(string daemonDll, string profile, IReadOnlyDictionary<string, string> environment, string? join = null, string? token = null)
    {
        // A dino-node.dll runs under `dotnet`; anything else (a Native AOT executable, an apphost) runs as it is.
        var isDll = daemonDll.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var info = new ProcessStartInfo(isDll ? "dotnet" : daemonDll)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (isDll) info.ArgumentList.Add(daemonDll);
        foreach (var arg in new[] { "--mount", MountPoint, "--data-dir", DataDir, "--listen", Endpoint, "--membership-profile", profile })
        {
            info.ArgumentList.Add(arg);
        }
        if (join is not null)
        {
            info.ArgumentList.Add("--join");
            info.ArgumentList.Add(join);
            info.ArgumentList.Add("--token");
            info.ArgumentList.Add(token!);
        }
        foreach (var (key, value) in environment) info.Environment[key] = value;
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Record(e.Data);
        process.ErrorDataReceived += (_, e) => Record(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        StartedAt = _clock.Elapsed;
    }

    private void Record(string? line)
    {
        if (line is null) return;
        lock (_lines) _lines.Add((_clock.Elapsed, line));
    }

    /// <summary>Log lines that arrived in [from, to) and contain <paramref name="text"/>.</summary>
    public List<(TimeSpan At, string Line)> Lines(string text, TimeSpan from, TimeSpan to)
    {
        lock (_lines) return [.. _lines.Where(l => l.At >= from && l.At < to && l.Line.Contains(text, StringComparison.Ordinal))];
    }

    public string Log()
    {
        lock (_lines) return string.Join('\n', _lines.Select(l => $"[{l.At.TotalSeconds,8:F3}] {l.Line}"));
    }

    /// <summary>User + system CPU time the process has used so far.</summary>
    public TimeSpan? CpuTime()
    {
        if (Pid is not { } pid) return null;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name (which may contain spaces) start after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds((double)ticks / ClockTicksPerSecond);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Resident set size in bytes (VmRSS).</summary>
    public long? Rss()
    {
        if (Pid is not { } pid) return null;
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Kill9()
    {
        if (Pid is { } pid && Running) _ = Kill(pid, 9);
    }

    /// <summary>SIGTERM, wait up to <paramref name="grace"/>, then SIGKILL; then lazily unmount whatever it left mounted.</summary>
    public void Stop(TimeSpan grace)
    {
        if (_process is { } process && !process.HasExited)
        {
            _ = Kill(process.Id, 15);
            if (!process.WaitForExit(grace))
            {
                _ = Kill(process.Id, 9);
                process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        Unmount();
    }

    /// <summary>A node killed with -9 leaves its FUSE mount behind (disconnected): detach it.</summary>
    public void Unmount()
    {
        if (!File.ReadLines("/proc/self/mounts").Any(l => l.Split(' ') is { Length: > 2 } f && f[1] == MountPoint)) return;
        using var umount = Process.Start(new ProcessStartInfo("umount", ["-l", MountPoint]) { RedirectStandardError = true, UseShellExecute = false });
        umount?.WaitForExit(TimeSpan.FromSeconds(10));
    }

    public void Dispose() => _process?.Dispose();

    private static readonly long ClockTicksPerSecond = SysConf(2) is var t and > 0 ? t : 100; // _SC_CLK_TCK

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);
}
