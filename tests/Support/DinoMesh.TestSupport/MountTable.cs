using System.Text;

namespace DinoMesh.TestSupport;

/// <summary>Reads /proc/self/mountinfo to tell whether a FUSE file system is mounted at a path.</summary>
public static class MountTable
{
    /// <summary>The fstype of the topmost mount at <paramref name="mountPoint"/>, or null when nothing is mounted there.</summary>
    public static string? FsTypeAt(string mountPoint) => EntryAt(mountPoint)?.FsType;

    /// <summary>The per-superblock options of the topmost mount (for FUSE: allow_other, default_permissions, user_id...).</summary>
    public static IReadOnlyList<string> SuperOptionsAt(string mountPoint) =>
        EntryAt(mountPoint)?.SuperOptions.Split(',') ?? [];

    /// <summary>The per-mount options of the topmost mount (rw/ro, nosuid, noatime/relatime...).</summary>
    public static IReadOnlyList<string> MountOptionsAt(string mountPoint) =>
        EntryAt(mountPoint)?.MountOptions.Split(',') ?? [];

    /// <summary>The mount's source (what df and findmnt show as the device), or null when nothing is mounted there.</summary>
    public static string? SourceAt(string mountPoint) => EntryAt(mountPoint)?.Source;

    private static (string FsType, string SuperOptions, string MountOptions, string Source)? EntryAt(string mountPoint)
    {
        var wanted = Path.GetFullPath(mountPoint).TrimEnd('/');
        (string, string, string, string)? found = null;
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // "36 35 98:0 /root /mnt/point rw,noatime master:1 - fuse.bindfs src rw"; later lines stack on earlier ones.
            var fields = line.Split(' ');
            var dash = Array.IndexOf(fields, "-");
            if (fields.Length < 5 || dash < 0 || dash + 1 >= fields.Length)
            {
                continue;
            }
            if (Unescape(fields[4]) == wanted)
            {
                found = (fields[dash + 1], dash + 3 < fields.Length ? fields[dash + 3] : "", fields[5], dash + 2 < fields.Length ? Unescape(fields[dash + 2]) : "");
            }
        }
        return found;
    }

    public static bool IsFuseMounted(string mountPoint) =>
        FsTypeAt(mountPoint)?.StartsWith("fuse", StringComparison.Ordinal) == true;

    /// <summary>Polls until a FUSE mount appears, the deadline passes, or <paramref name="gaveUp"/> says to stop.</summary>
    public static bool WaitForFuseMount(string mountPoint, TimeSpan timeout, Func<bool> gaveUp)
    {
        Poll.Until(() => IsFuseMounted(mountPoint) || gaveUp(), timeout, TimeSpan.FromMilliseconds(50));
        return IsFuseMounted(mountPoint);
    }

    /// <summary>Lazily unmounts whatever is at the path; harmless when nothing is.</summary>
    public static void LazyUnmount(string mountPoint)
    {
        for (var i = 0; i < 5 && FsTypeAt(mountPoint) is not null; i++)
        {
            Tool.TryRun("umount", ["-l", mountPoint], TimeSpan.FromSeconds(15));
        }
    }

    // mountinfo escapes space, tab, newline and backslash as \ooo.
    private static string Unescape(string s)
    {
        if (!s.Contains('\\', StringComparison.Ordinal))
        {
            return s;
        }
        var bytes = new List<byte>();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length)
            {
                bytes.Add(Convert.ToByte(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.Add((byte)s[i]);
            }
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }
}
