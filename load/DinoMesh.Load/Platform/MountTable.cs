using System.Text;

namespace DinoMesh.Load.Platform;

/// <summary>One line of /proc/self/mountinfo: where a file system is mounted, its type and its source.</summary>
public sealed record MountEntry(string MountPoint, string FileSystemType, string Source);

/// <summary>Reads /proc/self/mountinfo, the kernel's own view, to tell whether a FUSE mount is up.</summary>
public static class MountTable
{
    public static IReadOnlyList<MountEntry> Read(string path = "/proc/self/mountinfo") =>
        Parse(File.ReadAllLines(path));

    /// <summary>Parses mountinfo lines: "id parent major:minor root mountpoint options [optional...] - fstype source superopts".</summary>
    public static IReadOnlyList<MountEntry> Parse(IEnumerable<string> lines)
    {
        var entries = new List<MountEntry>();
        foreach (var line in lines)
        {
            var fields = line.Split(' ');
            var separator = Array.IndexOf(fields, "-");
            if (fields.Length < 5 || separator < 6 || separator + 2 >= fields.Length) continue;
            entries.Add(new MountEntry(Unescape(fields[4]), fields[separator + 1], Unescape(fields[separator + 2])));
        }
        return entries;
    }

    /// <summary>The entry mounted exactly at <paramref name="mountPoint"/> (the last one when stacked), or null.</summary>
    public static MountEntry? At(string mountPoint, IReadOnlyList<MountEntry>? entries = null)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        return (entries ?? Read()).LastOrDefault(e => e.MountPoint == full);
    }

    /// <summary>True when a FUSE file system (type "fuse" or "fuse.*") is mounted at <paramref name="mountPoint"/>.</summary>
    public static bool IsFuseMounted(string mountPoint) =>
        At(mountPoint) is { } entry && entry.FileSystemType.StartsWith("fuse", StringComparison.Ordinal);

    /// <summary>The mount that contains <paramref name="path"/>: the longest mount point that is a prefix of it.</summary>
    public static MountEntry? Containing(string path, IReadOnlyList<MountEntry>? entries = null)
    {
        var full = Path.GetFullPath(path);
        return (entries ?? Read())
            .Where(e => e.MountPoint == "/" || full == e.MountPoint || full.StartsWith(e.MountPoint + "/", StringComparison.Ordinal))
            .OrderBy(e => e.MountPoint.Length)
            .LastOrDefault();
    }

    /// <summary>Undoes the kernel's octal escapes (\040 for space, \011 tab, \012 newline, \134 backslash).</summary>
    internal static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal)) return field;
        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                // The kernel escapes only ASCII characters, so each escape is one char.
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
                continue;
            }
            text.Append(field[i]);
        }
        return text.ToString();
    }

    private static bool IsOctal(string s, int start) =>
        start + 3 <= s.Length && s.AsSpan(start, 3).IndexOfAnyExceptInRange('0', '7') < 0;
}
