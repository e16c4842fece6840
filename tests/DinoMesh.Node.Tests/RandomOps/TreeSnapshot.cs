using System.Security.Cryptography;

namespace DinoMesh.Node.Tests.RandomOps;

/// <summary>
/// Everything the model compares of a tree, one line per path (relative, '/'-separated, sorted): type and permission
/// bits, nlink, size (not of directories), symlink target, <c>user.*</c> xattrs and the SHA-256 of a regular file's
/// contents. Symlinks are not followed. Bounded to 10,000 entries.
/// </summary>
public static class TreeSnapshot
{
    private const int MaxEntries = 10_000;

    public static SortedDictionary<string, string> Take(string root, bool contents = true)
    {
        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var pending = new Stack<string>();
        pending.Push("");
        while (pending.Count > 0 && entries.Count < MaxEntries)
        {
            var dir = pending.Pop();
            foreach (var full in Directory.EnumerateFileSystemEntries(dir.Length == 0 ? root : Path.Combine(root, dir)))
            {
                var rel = dir.Length == 0 ? Path.GetFileName(full) : dir + "/" + Path.GetFileName(full);
                entries[rel] = Describe(full, contents, out var isDirectory);
                if (isDirectory) pending.Push(rel);
            }
        }
        return entries;
    }

    /// <summary>The paths of a snapshot and whether each is a directory (what the generator picks from).</summary>
    public static List<(string Path, bool IsDirectory)> Paths(SortedDictionary<string, string> snapshot) =>
        [.. snapshot.Select(kv => (kv.Key, kv.Value.StartsWith("dir", StringComparison.Ordinal)))];

    /// <summary>Lines of <paramref name="actual"/> that differ from <paramref name="expected"/> (missing, extra, changed), first 20.</summary>
    public static List<string> Differences(SortedDictionary<string, string> expected, SortedDictionary<string, string> actual)
    {
        var diffs = new List<string>();
        foreach (var (path, want) in expected)
        {
            if (!actual.TryGetValue(path, out var got)) diffs.Add($"missing {path}: {want}");
            else if (got != want) diffs.Add($"differs {path}: oracle {want} / node {got}");
        }
        diffs.AddRange(actual.Keys.Where(p => !expected.ContainsKey(p)).Select(p => $"extra {p}: {actual[p]}"));
        return [.. diffs.Take(20)];
    }

    private static string Describe(string full, bool contents, out bool isDirectory)
    {
        isDirectory = false;
        var e = Libc.Stat(full, follow: false, out var a);
        if (e != 0) return $"lstat errno {e}";
        isDirectory = a.IsDirectory;
        var type = a.IsDirectory ? "dir" : a.IsSymlink ? "symlink" : a.IsRegular ? "file" : "other";
        var line = $"{type} {OpRunner.Describe(a)}";
        if (a.IsSymlink)
        {
            Libc.Readlink(full, out var target);
            line += $" -> '{target}'";
        }
        var xattrError = Libc.UserXattrs(full, out var xattrs);
        line += xattrError != 0 ? $" xattrs errno {xattrError}" : xattrs.Count == 0 ? "" : $" xattrs [{string.Join(", ", xattrs)}]";
        if (a.IsRegular && contents) line += $" sha256 {Sha256(full)}";
        return line;
    }

    private static string Sha256(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 20);
            return Convert.ToHexString(SHA256.HashData(stream))[..16];
        }
        catch (IOException e)
        {
            return $"unreadable ({e.Message})";
        }
    }
}
