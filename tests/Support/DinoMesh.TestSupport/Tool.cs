using System.Diagnostics;

namespace DinoMesh.TestSupport;

/// <summary>What a finished command printed and returned.</summary>
public sealed record ToolResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() =>
        $"`{Command}` exited {ExitCode}\n--- stdout ---\n{Tail(Stdout)}\n--- stderr ---\n{Tail(Stderr)}";

    private static string Tail(string s) => s.Length <= 4000 ? s : "...\n" + s[^4000..];
}

/// <summary>Runs real tools (cp, tar, git, setfacl...) with a deadline, in the C locale so messages are predictable.</summary>
public static class Tool
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Runs the command and throws with its output unless it exits 0.</summary>
    public static ToolResult Run(string file, IEnumerable<string> args, TimeSpan? timeout = null, string? workDir = null,
        IReadOnlyDictionary<string, string>? env = null)
    {
        var r = TryRun(file, args, timeout, workDir, env);
        return r.ExitCode == 0 ? r : throw new InvalidOperationException(r.ToString());
    }

    public static ToolResult Run(string file, params string[] args) => Run(file, args, null);

    /// <summary>Runs the command and returns whatever it did; throws only when it outlives the deadline (after killing it).</summary>
    public static ToolResult TryRun(string file, IEnumerable<string> args, TimeSpan? timeout = null, string? workDir = null,
        IReadOnlyDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workDir ?? "/",
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["LC_ALL"] = "C";
        psi.Environment["LANG"] = "C";
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        var command = string.Join(' ', [file, .. psi.ArgumentList]);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {command}");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var limit = timeout ?? DefaultTimeout;
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
            throw new TimeoutException($"`{command}` did not finish within {limit.TotalSeconds:F0} s");
        }
        // Output is complete once the pipes close; a grandchild holding them must not hang the test.
        Task.WaitAll([stdout, stderr], TimeSpan.FromSeconds(10));
        return new ToolResult(command, p.ExitCode,
            stdout.IsCompletedSuccessfully ? stdout.Result : "", stderr.IsCompletedSuccessfully ? stderr.Result : "");
    }

    public static ToolResult TryRun(string file, params string[] args) => TryRun(file, args, null);
}
