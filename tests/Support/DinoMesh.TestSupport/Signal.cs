using System.Runtime.InteropServices;

namespace DinoMesh.TestSupport;

/// <summary>Signals, sent with kill(2) (Process.Kill only knows SIGKILL).</summary>
public static partial class Signal
{
    public const int SIGINT = 2, SIGKILL = 9, SIGTERM = 15, SIGCONT = 18, SIGSTOP = 19;

    /// <summary>kill(2); returns 0 or the errno.</summary>
    public static int Send(int pid, int signal) => kill(pid, signal) == 0 ? 0 : Marshal.GetLastPInvokeError();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
