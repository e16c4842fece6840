using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Durability;

/// <summary>What walking a tree found: every entry, the regular files' contents, and everything that went wrong.</summary>
public sealed record TreeReport(IReadOnlyList<string> Entries, IReadOnlyDictionary<string, byte[]> Files, IReadOnlyList<string> Problems);

/// <summary>
/// Walks a tree the way a user's `ls -lR` and `cat` would: every listed name must lstat, every directory must list,
/// every regular file must read to exactly its stat size.
/// </summary>
public static class TreeCheck
{
    private const int MaxEntries = 100_000;

    public static TreeReport Walk(string root)
    {
        var entries = new List<string>();
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var problems = new List<string>();
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0 && entries.Count < MaxEntries)
        {
            var dir = pending.Pop();
            string[] names;
            try
            {
                names = [.. Directory.EnumerateFileSystemEntries(dir)];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problems.Add($"{dir}: readdir failed: {e.Message}");
                continue;
            }
            foreach (var path in names)
            {
                entries.Add(path);
                var error = Posix.Lstat(path, out var st);
                if (error != Errno.OK)
                {
                    problems.Add($"{path}: listed, but lstat -> {error}");
                    continue;
                }
                if (st.IsDirectory)
                {
                    pending.Push(path);
                }
                else if (st.IsRegular)
                {
                    var (readError, data, at) = KnownContent.ReadFile(path);
                    if (readError != Errno.OK)
                    {
                        problems.Add($"{path}: read at {at} -> {readError}");
                    }
                    else if (data.LongLength != st.Size)
                    {
                        problems.Add($"{path}: read {data.LongLength} bytes, stat says {st.Size}");
                    }
                    files[path] = data;
                }
            }
        }
        if (entries.Count >= MaxEntries)
        {
            problems.Add($"more than {MaxEntries} entries under {root}: stopped walking");
        }
        return new TreeReport(entries, files, problems);
    }

    /// <summary>Runs find(1) over the tree and returns how many lines it printed; a failing find is a problem.</summary>
    public static int FindCount(string root, List<string> problems)
    {
        var r = Tool.TryRun("find", [root], TimeSpan.FromSeconds(30));
        if (r.ExitCode != 0)
        {
            problems.Add($"find failed: {r}");
        }
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }
}
