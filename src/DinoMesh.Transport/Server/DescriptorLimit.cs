using System.Runtime.InteropServices;

namespace DinoMesh.Transport.Server;

/// <summary>The process's descriptor limit (RLIMIT_NOFILE), which caps how many connections can be open at all.</summary>
internal static partial class DescriptorLimit
{
    private const int RlimitNofile = 7; // Linux, every architecture .NET runs on

    /// <summary>The soft limit, or null when it cannot be read or is unlimited.</summary>
    public static long? Current()
    {
        if (!OperatingSystem.IsLinux()) return null;
        return GetRLimit(RlimitNofile, out var limit) == 0 && limit.Current < long.MaxValue ? (long)limit.Current : null;
    }

    /// <summary>
    /// How many incoming connections fit under <paramref name="limit"/> with <paramref name="reserve"/> descriptors
    /// kept for everything else; half the limit when the limit is too small for the reserve.
    /// </summary>
    public static int ConnectionBudget(long? limit, int reserve, int wanted)
    {
        if (limit is not { } l) return wanted;
        var budget = l > 2L * reserve ? l - reserve : l / 2;
        return (int)Math.Clamp(budget, 1, wanted);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);
}
