using System.Runtime.InteropServices;

namespace DinoMesh.Load.Platform;

/// <summary>Sends POSIX signals; .NET's Process.Kill only sends SIGKILL and a daemon deserves a SIGTERM first.</summary>
public static partial class Signals
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    /// <summary>True when the signal was delivered (false when the process is already gone).</summary>
    public static bool Send(int processId, int signal) => Kill(processId, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int sig);
}
