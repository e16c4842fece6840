using System.Diagnostics;
using DinoMesh.TestSupport;

namespace DinoMesh.Storage.Tests.Support;

/// <summary>Runs short system commands (mount, umount) with a deadline.</summary>
internal static class Commands
{
    public static (int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            process.Kill();
            process.WaitForExit(TimeSpan.FromSeconds(5));
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish in 20 s");
        }
        return (process.ExitCode, (stdout.Result + stderr.Result).Trim());
    }

    /// <summary>
    /// For tests that need privileges or kernel features: skip with the reason here, but fail under CI=true, where the
    /// environment is supposed to provide them.
    /// </summary>
    public static void SkipUnlessAvailable(bool available, string reason)
    {
        if (!available) Requirement.Unavailable(reason);
    }
}
