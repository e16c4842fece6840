using System.Globalization;
using System.Text;

namespace DinoMesh.Fuse.Mounting;

/// <summary>One line of /proc/self/mountinfo (the fields we use).</summary>
internal sealed record MountEntry(int MountId, uint Major, uint Minor, string MountPoint, string FileSystemType, string Source);

/// <summary>Reads /proc/self/mountinfo: is a path a mount point, and which device number does a mount have.</summary>
internal static class MountTable
{
    public const string Path = "/proc/self/mountinfo";

    public static IReadOnlyList<MountEntry> Read() => Parse(File.ReadAllLines(Path));

    /// <summary>The last (topmost) mount at exactly <paramref name="mountPoint"/>, or null.</summary>
    public static MountEntry? Find(string mountPoint)
    {
        string wanted = Trim(mountPoint);
        MountEntry? found = null;
        foreach (var entry in Read())
        {
            if (entry.MountPoint == wanted)
                found = entry;
        }
        return found;
    }

    /// <summary>
    /// Format: "36 35 98:0 /root /mnt1 rw,noatime master:1 - ext3 /dev/root rw,errors=continue". Paths escape
    /// space, tab, newline and backslash as \ooo octal.
    /// </summary>
    public static IReadOnlyList<MountEntry> Parse(IEnumerable<string> lines)
    {
        var entries = new List<MountEntry>();
        foreach (var line in lines)
        {
            var fields = line.Split(' ');
            int separator = Array.IndexOf(fields, "-");
            if (fields.Length < 7 || separator < 6 || separator + 2 >= fields.Length)
                continue;
            var device = fields[2].Split(':');
            if (device.Length != 2 ||
                !int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out int id) ||
                !uint.TryParse(device[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint major) ||
                !uint.TryParse(device[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint minor))
                continue;
            entries.Add(new MountEntry(id, major, minor, Unescape(fields[4]), fields[separator + 1], Unescape(fields[separator + 2])));
        }
        return entries;
    }

    public static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
            return field;
        var bytes = new List<byte>(field.Length);
        var raw = Encoding.UTF8.GetBytes(field);
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '\\' && i + 3 < raw.Length && IsOctal(raw[i + 1]) && IsOctal(raw[i + 2]) && IsOctal(raw[i + 3]))
            {
                bytes.Add((byte)(((raw[i + 1] - '0') << 6) | ((raw[i + 2] - '0') << 3) | (raw[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(raw[i]);
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(byte b) => b is >= (byte)'0' and <= (byte)'7';

    private static string Trim(string path) => path.Length > 1 ? path.TrimEnd('/') : path;
}
