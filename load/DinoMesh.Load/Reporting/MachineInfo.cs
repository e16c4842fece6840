using System.Runtime.InteropServices;
using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Reporting;

/// <summary>The machine a report was measured on, read from /proc so the numbers can be put in context.</summary>
public sealed record MachineInfo(
    string CpuModel, int Cores, double MemoryGiB, string Kernel, string OperatingSystem, string Runtime, string WorkDirFileSystem)
{
    /// <summary>The 1, 5 and 15 minute load averages: other work on the machine skews every number.</summary>
    public static string LoadAverage() =>
        string.Join(' ', (TryRead("/proc/loadavg") ?? "? ? ?").Split(' ').Take(3));

    public static MachineInfo Collect(string workDirectory)
    {
        var cpu = ReadField("/proc/cpuinfo", "model name", ':') ?? "unknown";
        var memKb = ReadField("/proc/meminfo", "MemTotal", ':')?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        var memory = double.TryParse(memKb, out var kb) ? Math.Round(kb / 1024 / 1024, 1) : 0;
        var kernel = TryRead("/proc/sys/kernel/osrelease")?.Trim() ?? RuntimeInformation.OSDescription;
        var os = ReadField("/etc/os-release", "PRETTY_NAME", '=')?.Trim('"') ?? "unknown";
        var mount = MountTable.Containing(workDirectory);
        var fs = mount is null ? "unknown" : $"{mount.FileSystemType} on {mount.Source} (mounted at {mount.MountPoint})";
        return new MachineInfo(cpu, Environment.ProcessorCount, memory, kernel, os, RuntimeInformation.FrameworkDescription, fs);
    }

    private static string? ReadField(string path, string key, char separator)
    {
        var text = TryRead(path);
        if (text is null) return null;
        foreach (var line in text.Split('\n'))
        {
            var at = line.IndexOf(separator, StringComparison.Ordinal);
            if (at > 0 && line[..at].Trim() == key) return line[(at + 1)..].Trim();
        }
        return null;
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
